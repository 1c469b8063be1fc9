package serve

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// htpasswd is the users of an htpasswd file, and a hash of the highest cost among theirs that
// no password matches: an unknown user costs the same bcrypt comparison as a known one, so
// that the time of a refusal does not tell which names exist.
type htpasswd struct {
	users map[string][]byte // user -> bcrypt hash
	dummy []byte
}

// parseHtpasswd reads "user:bcrypt-hash" lines; blank lines and # comments are skipped.
func parseHtpasswd(name string, content []byte) (*htpasswd, error) {
	users := map[string][]byte{}
	cost := bcrypt.MinCost
	for i, line := range strings.Split(string(content), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		c, err := bcrypt.Cost([]byte(hash))
		if !ok || user == "" || err != nil {
			return nil, fmt.Errorf("%s, line %d: want USER:BCRYPT-HASH (htpasswd -B), the only kind read", name, i+1)
		}
		users[user] = []byte(hash)
		cost = max(cost, c)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("%s: no user", name)
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	dummy, err := bcrypt.GenerateFromPassword([]byte(fmt.Sprintf("%x", secret)), cost)
	if err != nil {
		return nil, err
	}
	return &htpasswd{users: users, dummy: dummy}, nil
}

// authorized reports whether req carries the credentials of a user of the htpasswd file (or
// none are required); otherwise it answers 401 with a Basic challenge or, for a client whose
// attempts failed too often lately, 429 with Retry-After (failures.go), without comparing.
func (r *Registry) authorized(w http.ResponseWriter, req *http.Request) bool {
	if r.o.users == nil {
		return true
	}
	user, pw, ok := req.BasicAuth()
	if ok {
		client := clientKey(req.RemoteAddr)
		if wait := r.failures.wait(client); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
			writeError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "too many failed logins from this address: try again later")
			return false
		}
		if r.check(user, pw) {
			r.failures.forget(client)
			return true
		}
		r.failures.failed(client)
		r.o.log.Printf("%s %s: failed login from %s", req.Method, req.URL.Path, req.RemoteAddr)
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="unbundle serve"`)
	writeError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
	return false
}

// check compares a user's password with its hash, or with the dummy hash for an unknown
// user (the same cost). Credentials bcrypt accepted are remembered (their sha256), so that a
// client's requests do not each cost a comparison.
func (r *Registry) check(user, pw string) bool {
	hash, known := r.o.users.users[user]
	if !known {
		r.compares.Add(1)
		bcrypt.CompareHashAndPassword(r.o.users.dummy, []byte(pw))
		return false
	}
	key := sha256.Sum256([]byte(user + ":" + pw + ":" + string(hash)))
	if _, hit := r.passed.Load(key); hit {
		return true
	}
	r.compares.Add(1)
	if bcrypt.CompareHashAndPassword(hash, []byte(pw)) != nil {
		return false
	}
	r.passed.Store(key, true)
	return true
}

// clientKey is what failed attempts are counted by: the client's IP address, an IPv6
// address's /64 (one host's share of a network).
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}
