package oci

import (
	"net/http"
	"strings"
)

// requestScopes returns the token scopes a registry request needs: pull (and push in a push
// session, or for a write) on the repository its path names, plus pull on a mount's source.
func requestScopes(req *http.Request) []string {
	repo, ok := pathRepository(req.URL.Path)
	if !ok {
		if strings.HasPrefix(req.URL.Path, "/v2/_catalog") {
			return []string{"registry:catalog:*"}
		}
		return nil
	}
	actions := "pull"
	if push, _ := req.Context().Value(pushKey{}).(bool); push || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
		actions = "pull,push"
	}
	scopes := []string{"repository:" + repo + ":" + actions}
	if from := req.URL.Query().Get("from"); from != "" && from != repo {
		scopes = append(scopes, "repository:"+from+":pull")
	}
	return scopes
}

// pathRepository returns the repository of a registry API path: /v2/<name>/(blobs|manifests|
// tags|referrers)/...
func pathRepository(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", false
	}
	at := -1 // the last marker: a repository name may hold "blobs" or "manifests" as a component
	for _, kind := range []string{"/blobs/", "/manifests/", "/tags/", "/referrers/"} {
		at = max(at, strings.LastIndex(rest, kind))
	}
	if at <= 0 {
		return "", false
	}
	return rest[:at], true
}

// challenge is a parsed WWW-Authenticate challenge.
type challenge struct {
	scheme string // lower case
	params map[string]string
}

// parseChallenge returns the first Bearer or Basic challenge of WWW-Authenticate values.
func parseChallenge(values []string) (challenge, bool) {
	for _, v := range values {
		scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
		scheme = strings.ToLower(scheme)
		if scheme != "bearer" && scheme != "basic" {
			continue
		}
		return challenge{scheme: scheme, params: parseParams(rest)}, true
	}
	return challenge{}, false
}

// parseParams parses auth-params: key=value or key="quoted, value", separated by commas.
func parseParams(s string) map[string]string {
	params := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimSpace(s[eq+1:])
		var val string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			val, s = b.String(), s[min(i+1, len(s)):]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
		}
		params[key] = val
		s = strings.TrimLeft(strings.TrimSpace(s), ",")
		s = strings.TrimSpace(s)
	}
	return params
}
