package oci

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// tagsPageSize is the n asked of a tags list; 0 asks for none and lets the registry choose.
// Asking is risky (some registries cut the list at n without a Link header), so it stays 0
// except in tests that exercise pagination.
var tagsPageSize = 0

// ListTags returns every tag of repo ("host/path"), through the host's mirror if it has one
// (WithMirror), within the caps of Session.ListTags.
func (c *Client) ListTags(ctx context.Context, repo string) ([]string, error) {
	r, mirror, err := c.repository(repo)
	if err != nil {
		return nil, err
	}
	tags, err := c.reader(ctx, r.RegistryStr()).ListTags(ctx, r.RepositoryStr())
	return tags, through(mirror, err)
}

// ListTags returns every tag of repo, in the order the registry serves them, following its
// pagination (the Link header of each page, which must stay on the same registry), at most
// maxTags tags in maxTagPages pages of maxListBytes. A repository the registry does not know
// is an error wrapping ErrNotFound.
func (p *Session) ListTags(ctx context.Context, repo string) ([]string, error) {
	what := fmt.Sprintf("list tags of %s/%s", p.host, repo)
	u := p.base + repo + "/tags/list"
	if tagsPageSize > 0 {
		u += "?n=" + strconv.Itoa(tagsPageSize)
	}
	var tags []string
	seen := map[string]bool{}
	for u != "" {
		if seen[u] {
			return nil, fmt.Errorf("%s: the registry's next page %s repeats an earlier one", what, u)
		}
		if len(seen) == maxTagPages || len(tags) > maxTags {
			return nil, fmt.Errorf("%s: more than %d tags or %d pages: refused", what, maxTags, maxTagPages)
		}
		seen[u] = true
		page, next, err := p.tagsPage(ctx, u, what)
		if err != nil {
			return nil, err
		}
		if next != "" && len(page) == 0 {
			return nil, fmt.Errorf("%s: the registry gave an empty page with a next page", what)
		}
		tags = append(tags, page...)
		u = next
	}
	return tags, nil
}

// tagsPage fetches one page of a tags list and returns its tags and the absolute URL of the
// next page ("" on the last).
func (p *Session) tagsPage(ctx context.Context, u, what string) ([]string, string, error) {
	resp, err := p.do(ctx, http.MethodGet, u, nil, -1, "")
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "", statusError(resp, what)
	}
	var body struct {
		Tags []string `json:"tags"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxListBytes+1)).Decode(&body); err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	next, err := p.nextLink(resp.Header.Values("Link"))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", what, err)
	}
	return body.Tags, next, nil
}

// nextLink returns the absolute URL of the rel="next" entry of Link header values (RFC 8288),
// or "" when there is none. A next page on another host or scheme is refused.
func (p *Session) nextLink(values []string) (string, error) {
	for _, v := range values {
		for _, link := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			next := false
			for _, param := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(param), "=")
				if strings.EqualFold(k, "rel") && strings.EqualFold(strings.Trim(v, `"`), "next") {
					next = true
				}
			}
			if !next {
				continue
			}
			abs := p.resolve(strings.Trim(target, "<>"))
			nu, err := url.Parse(abs)
			bu, _ := url.Parse(p.base)
			if err != nil || nu.Scheme != bu.Scheme || nu.Host != bu.Host {
				return "", fmt.Errorf("next page %q is not on %s", abs, p.base)
			}
			return abs, nil
		}
	}
	return "", nil
}
