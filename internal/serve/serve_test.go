package serve

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/element-hq/ess-airgap/internal/verify"
	"golang.org/x/crypto/bcrypt"
)

// TestHeldBack: a blob whose bytes do not match its digest is never handed on whole: the
// reader fails before its last heldTail bytes; one that matches is handed on whole.
func TestHeldBack(t *testing.T) {
	good := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320000 bytes
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	for _, c := range []struct {
		name string
		data []byte
		ok   bool
	}{{"good", good, true}, {"last byte changed", bad, false}} {
		h := &heldBack{src: verify.NewReader(bytes.NewReader(c.data), verify.Digest(good), int64(len(good))), left: int64(len(good))}
		got, err := io.ReadAll(h)
		if c.ok && (err != nil || !bytes.Equal(got, good)) {
			t.Errorf("%s: %d bytes, %v", c.name, len(got), err)
		}
		if !c.ok && (err == nil || len(got) > len(good)-heldTail) {
			t.Errorf("%s: handed on %d of %d bytes (%v), want an error before the last %d", c.name, len(got), len(good), err, heldTail)
		}
	}
}

// TestHtpasswd: bcrypt entries only; the right password passes, a wrong one or none is a 401
// with a Basic challenge.
func TestHtpasswd(t *testing.T) {
	if _, err := parseHtpasswd("h", []byte("ops:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")); err == nil || !strings.Contains(err.Error(), "h, line 1") {
		t.Errorf("a SHA1 entry was taken: %v", err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	r, err := New(t.Context(), nil, WithHtpasswd("h", []byte("# ops\nops:"+string(hash)+"\n")))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, pw string
		want     int
	}{{"ops", "pw", 200}, {"ops", "pw", 200}, {"ops", "nope", 401}, {"", "", 401}, {"root", "pw", 401}} {
		req := httptest.NewRequest("GET", "/v2/", nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pw)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != c.want || (c.want == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ")) {
			t.Errorf("%s/%s: %d %v, want %d", c.user, c.pw, w.Code, w.Header(), c.want)
		}
	}
	w := httptest.NewRecorder()
	req := httptest.NewRequest("DELETE", "/v2/x/manifests/y", nil)
	req.SetBasicAuth("ops", "pw")
	if r.ServeHTTP(w, req); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", w.Code)
	}
}
