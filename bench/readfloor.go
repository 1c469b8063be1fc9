package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// The read floor: what the upstream registry (and the link in front of it) can give at best,
// the bound of bundle create. Every unique blob (config or layer) is fetched once with one GET,
// -floor-jobs at a time, largest first, from the first repository that has it, and written to
// a file of its own: no hashing, no archive, no sync. With token auth it asks the realm for a
// token per repository, as every client must (anonymous pull). The files are removed after.
func (b *bench) readFloor(ctx context.Context, e *env) result {
	if b.floor == nil {
		return failed(fmt.Errorf("%w: %v", errNoPlan, b.prepErr))
	}
	dir := filepath.Join(e.pack, "read-floor")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return failed(err)
	}
	defer os.RemoveAll(dir)
	tk := &tokens{b: b, byRepo: map[string]string{}}
	counts := b.upstreamCounts()
	ph := b.phase()
	err := parallel(ctx, b.cfg.floorJobs, len(b.floor.blobs), func(ctx context.Context, i int) error {
		bl := b.floor.blobs[i]
		return tk.download(ctx, "http://"+b.upstreamHost+"/v2/"+bl.repo+"/blobs/"+bl.digest, bl.repo,
			filepath.Join(dir, strings.TrimPrefix(bl.digest, "sha256:")), bl.size)
	})
	r := ph.inProcess(err)
	counts(&r)
	return r
}

// tokens answers Bearer challenges with one anonymous pull token per repository.
type tokens struct {
	b      *bench
	mu     sync.Mutex
	byRepo map[string]string
}

// download GETs u into file, which must get size bytes.
func (t *tokens) download(ctx context.Context, u, repo, file string, size int64) error {
	resp, err := t.get(ctx, u, repo)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	n, err := io.CopyBuffer(f, resp.Body, make([]byte, 1<<20))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("GET %s: %d bytes, want %d", u, n, size)
	}
	return err
}

// get sends GET u with repo's token, fetching one first when the registry asks for it.
func (t *tokens) get(ctx context.Context, u, repo string) (*http.Response, error) {
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		t.mu.Lock()
		tok := t.byRepo[repo]
		t.mu.Unlock()
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := t.b.client.Do(req)
		if err != nil || resp.StatusCode != http.StatusUnauthorized || try > 0 {
			return resp, err
		}
		ch := resp.Header.Get("WWW-Authenticate")
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if tok, err = t.fetch(ctx, ch, repo); err != nil {
			return nil, err
		}
		t.mu.Lock()
		t.byRepo[repo] = tok
		t.mu.Unlock()
	}
}

// fetch asks the realm of a Bearer challenge for a pull token on repo.
func (t *tokens) fetch(ctx context.Context, challenge, repo string) (string, error) {
	scheme, params, _ := strings.Cut(challenge, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", fmt.Errorf("challenge %q: want Bearer", challenge)
	}
	p := map[string]string{}
	for _, kv := range strings.Split(params, ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			p[k] = strings.Trim(v, `"`)
		}
	}
	u, err := url.Parse(p["realm"])
	if err != nil || p["realm"] == "" {
		return "", fmt.Errorf("challenge %q: bad realm", challenge)
	}
	u.RawQuery = url.Values{"service": {p["service"]}, "scope": {"repository:" + repo + ":pull"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := t.b.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.Token == "" {
		return "", fmt.Errorf("token from %s: %s %v", p["realm"], resp.Status, err)
	}
	return body.Token, nil
}
