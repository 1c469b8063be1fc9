package trust

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/element-hq/ess-airgap/internal/archive/parts"
	"github.com/element-hq/ess-airgap/internal/sshsig"
)

// TestSignAndFind: Sign records the time in the checksum file and signs it; Find with the key
// says who signed and when, with the key's source; the file still checks with sha256sum's
// lines unchanged; a key valid only later, another key, no signature or an edited checksum file
// are refused as ErrSignature, naming why.
func TestSignAndFind(t *testing.T) {
	signer, allowed := testSigner(t)
	_, others := testSigner(t)
	path, _ := writeTestBundle(t, t.TempDir(), randomBytes(t, 1000))
	before := mustRead(t, path+".sha256")
	s := mustFind(t, Trust{}, path)
	if s.Unchecked != nil || s.Signature != nil {
		t.Fatalf("an unsigned bundle: %+v %+v", s.Unchecked, s.Signature)
	}
	if _, err := Find(context.Background(), Trust{Keys: allowed}, path); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "there is no b.tar.zst.sha256.sig beside it") {
		t.Fatalf("unsigned, with a key: %v", err)
	}
	now := time.Date(2026, 5, 6, 7, 8, 9, 500, time.UTC)
	if err := Sign(s, signer, now); err != nil {
		t.Fatal(err)
	}
	after := mustRead(t, path+".sha256")
	if !strings.HasPrefix(string(after), string(before)) || !strings.HasSuffix(string(after), "# signed: 2026-05-06T07:08:09Z\n") {
		t.Fatalf("the signed checksum file:\n%s\nwas:\n%s", after, before)
	}
	got := mustFind(t, Trust{Keys: allowed}, path)
	if got.Signature == nil || got.Signature.Key != sshsig.ID(signer.PublicKey()) || got.Signature.Source != "test:1" ||
		!got.Signature.Signed.Equal(now.Truncate(time.Second)) {
		t.Fatalf("Signature = %+v", got.Signature)
	}
	if _, err := OpenSet(got); err != nil {
		t.Fatalf("the signed bundle: %v", err)
	}
	if u := mustFind(t, Trust{}, path).Unchecked; u == nil || u.Key != sshsig.ID(signer.PublicKey()) || u.Principals != nil {
		t.Fatalf("without a key: Unchecked = %+v", u)
	}
	if _, err := Find(context.Background(), Trust{Keys: others}, path); !errors.Is(err, ErrSignature) {
		t.Fatalf("another key: %v", err)
	}
	later := allowed[0]
	later.ValidAfter = now.Add(time.Hour)
	if _, err := Find(context.Background(), Trust{Keys: []sshsig.Allowed{later}, Now: now}, path); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "valid from") {
		t.Fatalf("a key valid only later: %v", err)
	}
	if _, err := Find(context.Background(), Trust{Keys: allowed, Now: now}, path); err != nil {
		t.Fatalf("at the time of signing: %v", err)
	}
	// Edited after it was signed: refused with and without a key; not when it is to be
	// replaced (bundle sign).
	os.WriteFile(path+".sha256", append(after, "# one more line\n"...), 0o644)
	for _, tr := range []Trust{{}, {Keys: allowed}} {
		if _, err := Find(context.Background(), tr, path); !errors.Is(err, ErrSignature) {
			t.Fatalf("edited, %d keys: %v", len(tr.Keys), err)
		}
	}
	if s, err := Find(context.Background(), Trust{Replacing: true}, path); err != nil || s.Unchecked != nil {
		t.Fatalf("replacing: %+v, %v", s, err)
	}
}

// TestSignRefuses: there is nothing to sign without a checksum file; a checksum file of an older
// tool (no size, no table) gets them recorded before it is signed.
func TestSignRefuses(t *testing.T) {
	signer, allowed := testSigner(t)
	path, _ := writeTestBundle(t, t.TempDir(), randomBytes(t, 1000))
	sums, err := parts.ReadSums(path + ".sha256")
	if err != nil {
		t.Fatal(err)
	}
	old := &parts.Sums{Name: sums.Name, SHA256: sums.SHA256}
	os.WriteFile(path+".sha256", []byte(old.SHA256+"  "+old.Name+"\n"), 0o644)
	s := mustFind(t, Trust{}, path)
	if err := Sign(s, signer, time.Now()); err != nil {
		t.Fatal(err)
	}
	got, err := parts.ReadSums(path + ".sha256")
	if err != nil || got.Size != sums.Size || got.Table != sums.Table || got.Signed.IsZero() {
		t.Fatalf("signed an older checksum file: %+v, %v (want size %d, table %s)", got, err, sums.Size, sums.Table)
	}
	if _, err := OpenSet(mustFind(t, Trust{Keys: allowed}, path)); err != nil {
		t.Fatalf("opened signed: %v", err)
	}
	os.Remove(path + ".sha256")
	os.Remove(path + ".sha256.sig")
	if err := Sign(mustFind(t, Trust{}, path), signer, time.Now()); err == nil || !strings.Contains(err.Error(), "no checksum file") {
		t.Fatalf("no checksum file: %v", err)
	}
	if _, err := Find(context.Background(), Trust{Keys: allowed}, path); !errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), "there is no checksum file") {
		t.Fatalf("no checksum file, with a key: %v", err)
	}
}

// TestCheckSigned: a signed bundle's footer must give the table digest and the file size the
// signed checksum file records, and that file must record the table at all.
func TestCheckSigned(t *testing.T) {
	table := "sha256:" + hexOf("table")
	s := &Set{Signature: &Signature{Key: "k"}, Set: parts.Set{Sums: &parts.Sums{Table: table, Size: 1000}}}
	for _, tc := range []struct {
		name  string
		sums  parts.Sums
		f     string // the table digest the footer gives
		size  int64
		want  string
		wants bool
	}{
		{"as signed", parts.Sums{Table: table, Size: 1000}, table, 1000, "", false},
		{"no table recorded", parts.Sums{Size: 1000}, table, 1000, "records no offset table digest", true},
		{"another table", parts.Sums{Table: table, Size: 1000}, "sha256:" + hexOf("other"), 1000, "is not the one signed", true},
		{"another size", parts.Sums{Table: table, Size: 1000}, table, 1001, "the bundle is 1001 bytes, the signed checksum file records 1000", true},
	} {
		sums := tc.sums
		s.Sums = &sums
		err := s.checkSigned(tc.f, tc.size)
		if (err != nil) != tc.wants || (err != nil && (!errors.Is(err, ErrSignature) || !strings.Contains(err.Error(), tc.want))) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	unsigned := &Set{}
	if err := unsigned.checkSigned(table, 5); err != nil {
		t.Errorf("unsigned: %v", err)
	}
}
