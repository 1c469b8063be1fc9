package serve

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// parseHtpasswd reads "user:bcrypt-hash" lines; blank lines and # comments are skipped.
func parseHtpasswd(name string, content []byte) (map[string][]byte, error) {
	users := map[string][]byte{}
	for i, line := range strings.Split(string(content), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if _, err := bcrypt.Cost([]byte(hash)); !ok || user == "" || err != nil {
			return nil, fmt.Errorf("%s, line %d: want USER:BCRYPT-HASH (htpasswd -B), the only kind read", name, i+1)
		}
		users[user] = []byte(hash)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s: no user", name)
	}
	return users, nil
}

// authorized reports whether req carries the credentials of a user of the htpasswd file (or
// none are required); otherwise it answers 401 with a Basic challenge.
func (r *Registry) authorized(w http.ResponseWriter, req *http.Request) bool {
	if r.o.users == nil {
		return true
	}
	user, pw, ok := req.BasicAuth()
	if ok {
		if hash, known := r.o.users[user]; known {
			key := sha256.Sum256([]byte(user + ":" + pw + ":" + string(hash)))
			if _, hit := r.passed.Load(key); hit {
				return true
			}
			if bcrypt.CompareHashAndPassword(hash, []byte(pw)) == nil {
				r.passed.Store(key, true)
				return true
			}
		}
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="unbundle serve"`)
	writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
	return false
}
