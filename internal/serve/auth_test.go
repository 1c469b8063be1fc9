package serve

import (
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func bcryptOf(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// TestParseHtpasswd: bcrypt lines are read (as htpasswd -B writes them, $2y$, and as Go
// writes them, $2a$), comments and blank lines skipped; any other line is refused naming the
// file and the line, and a file of no user is refused.
func TestParseHtpasswd(t *testing.T) {
	h := bcryptOf(t, "pw")
	y := "$2y$" + strings.TrimPrefix(h, "$2a$")
	users, err := parseHtpasswd("users", []byte("# ops team\n\n  ops:"+h+"  \nci:"+y+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(users.users) != 2 || string(users.users["ops"]) != h || string(users.users["ci"]) != y {
		t.Fatalf("users: %v", users.users)
	}
	if bcrypt.CompareHashAndPassword(users.users["ci"], []byte("pw")) != nil {
		t.Fatal("a $2y$ hash does not take its password")
	}
	for _, tc := range []struct {
		content, want string
	}{
		{"", "users: no user"},
		{"# only a comment\n", "users: no user"},
		{"ops\n", "users, line 1: want USER:BCRYPT-HASH"},
		{"ops:" + h + "\n:" + h + "\n", "users, line 2"},
		{"ops:$apr1$abc$defghijklmnopqrstuvwx\n", "users, line 1"},
		{"ops:plaintext\n", "users, line 1"},
		{"ops:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", "users, line 1"},
	} {
		if _, err := parseHtpasswd("users", []byte(tc.content)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.content, err, tc.want)
		}
	}
	if _, err := New(t.Context(), nil, WithHtpasswd("users", []byte("nobody\n"))); err == nil {
		t.Error("New took a bad htpasswd file")
	}
}

// TestCredentialsRemembered: a user's right password costs one bcrypt comparison, not one per
// request; a wrong one costs one each time; the password is never in the log.
func TestCredentialsRemembered(t *testing.T) {
	var logged syncBuffer
	r, err := New(t.Context(), nil, WithHtpasswd("h", []byte("ops:"+bcryptOf(t, "s3cret-pw")+"\n")), WithLog(log.New(&logged, "", 0)))
	if err != nil {
		t.Fatal(err)
	}
	get := func(user, pw string) int {
		req := httptest.NewRequest("GET", "/v2/", nil)
		req.SetBasicAuth(user, pw)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code
	}
	for range 5 {
		if code := get("ops", "s3cret-pw"); code != http.StatusOK {
			t.Fatalf("the right password: %d", code)
		}
	}
	if n := r.compares.Load(); n != 1 {
		t.Fatalf("5 requests with the right password: %d comparisons, want 1", n)
	}
	for range 2 {
		if code := get("ops", "s3cret-pX"); code != http.StatusUnauthorized {
			t.Fatalf("a wrong password: %d", code)
		}
	}
	if n := r.compares.Load(); n != 3 {
		t.Fatalf("then 2 wrong ones: %d comparisons, want 3", n)
	}
	if s := logged.String(); !strings.Contains(s, "failed login") || strings.Contains(s, "s3cret") {
		t.Fatalf("the log: %q", s)
	}
}

func TestClientKey(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.1:5000":          "192.0.2.1",
		"192.0.2.1":               "192.0.2.1",
		"[2001:db8::1]:1":         "2001:db8::/64",
		"[2001:db8:0:0:ffff::]:1": "2001:db8::/64",
		"[2001:db8:0:1::1]:1":     "2001:db8:0:1::/64",
		"[::ffff:192.0.2.1]:1":    "192.0.2.1",
		"not an address":          "not an address",
		"@":                       "@",
	} {
		if got := clientKey(addr); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", addr, got, want)
		}
	}
}
