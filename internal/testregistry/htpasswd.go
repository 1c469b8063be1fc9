package testregistry

import (
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/registry/auth"
	"golang.org/x/crypto/bcrypt"
)

// cachedHtpasswd is the name of the access controller Start configures for WithAuth:
// Distribution's htpasswd, remembering the Authorization headers it accepted.
const cachedHtpasswd = "testregistry-htpasswd"

func init() {
	if err := auth.Register(cachedHtpasswd, auth.InitFunc(newCachedHtpasswd)); err != nil {
		panic(err)
	}
}

// htpasswdCache is Distribution's htpasswd access controller with the bcrypt check of an
// Authorization header done once: Distribution checks the hash on every request, which even at
// bcrypt's minimum cost was the largest single cost of a push under -race. A header it accepted
// is granted again while the htpasswd file is unchanged; everything else (no credentials, a
// wrong password, a changed file) goes to Distribution's controller, with its challenges.
type htpasswdCache struct {
	next auth.AccessController
	path string

	mu      sync.Mutex
	modTime time.Time
	granted map[string]string // Authorization header -> user
}

func newCachedHtpasswd(options map[string]any) (auth.AccessController, error) {
	next, err := auth.GetAccessController("htpasswd", options)
	if err != nil {
		return nil, err
	}
	path, _ := options["path"].(string)
	return &htpasswdCache{next: next, path: path, granted: map[string]string{}}, nil
}

func (c *htpasswdCache) Authorized(req *http.Request, access ...auth.Access) (*auth.Grant, error) {
	h := req.Header.Get("Authorization")
	fi, err := os.Stat(c.path)
	if err != nil {
		return nil, fmt.Errorf("testregistry: htpasswd: %w", err)
	}
	c.mu.Lock()
	if !fi.ModTime().Equal(c.modTime) {
		c.modTime, c.granted = fi.ModTime(), map[string]string{}
	}
	user, ok := c.granted[h]
	c.mu.Unlock()
	if ok {
		return &auth.Grant{User: auth.UserInfo{Name: user}}, nil
	}
	g, err := c.next.Authorized(req, access...)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if fi.ModTime().Equal(c.modTime) {
		c.granted[h] = g.User.Name
	}
	c.mu.Unlock()
	return g, nil
}

// writeHtpasswd writes a one-user htpasswd file (mode 0600). It uses bcrypt's minimum cost:
// Distribution checks the hash of every header it has not seen accepted, and the default cost
// adds ~50 ms to each.
func writeHtpasswd(path, username, password string) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return fmt.Errorf("testregistry: htpasswd: %w", err)
	}
	if err := os.WriteFile(path, []byte(username+":"+string(hash)+"\n"), 0o600); err != nil {
		return fmt.Errorf("testregistry: htpasswd: %w", err)
	}
	return nil
}
