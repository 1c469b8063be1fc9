package create

import (
	"encoding/json"
	"testing"

	"github.com/element-hq/ess-airgap/internal/archive"
	"github.com/element-hq/ess-airgap/internal/verify"
)

// TestEntriesOrder: the bundle's entries are the manifest (the creation's, as JSON), the
// layout and the index, then every blob in order, those held in memory with their bytes and
// counted as such, the others left to pull, then the plain files as the manifest lists them.
func TestEntriesOrder(t *testing.T) {
	cfg := []byte(`{"os":"linux","architecture":"amd64"}`)
	mk := func(data []byte, size int64, kind string) *blob {
		d := verify.Digest(data)
		return &blob{Blob: archive.Blob{Digest: d, Size: size, Kind: kind}, repo: "r.test/app"}
	}
	inMem := mk(cfg, int64(len(cfg)), archive.KindConfig)
	inMem.data = cfg
	layer1 := mk([]byte("layer one"), 1<<30, archive.KindLayer)
	layer2 := mk([]byte("layer two"), 7, archive.KindLayer)
	files := []archive.PlainFile{{Name: "unbundle", Digest: verify.Digest([]byte("bin")), Size: 3, Executable: true},
		{Name: "README", Digest: verify.Digest([]byte("doc")), Size: 3}}
	r := &creation{m: &archive.Manifest{FormatVersion: archive.FormatVersion, Tool: "test", Files: files},
		layout: []byte(`{"imageLayoutVersion":"1.0.0"}`), index: []byte(`{"manifests":[]}`),
		blobs: []*blob{layer1, inMem, layer2}}

	entries, remote, held, err := r.entries()
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{archive.ManifestName, archive.LayoutName, archive.IndexName,
		archive.BlobName(layer1.Digest), archive.BlobName(inMem.Digest), archive.BlobName(layer2.Digest), "unbundle", "README"}
	if len(entries) != len(wantNames) {
		t.Fatalf("%d entries, want %d", len(entries), len(wantNames))
	}
	for i, e := range entries {
		if e.Name != wantNames[i] {
			t.Errorf("entry %d is %s, want %s", i, e.Name, wantNames[i])
		}
	}
	var m archive.Manifest
	if err := json.Unmarshal(entries[0].Data, &m); err != nil || m.Tool != "test" || len(m.Files) != 2 {
		t.Errorf("the manifest entry does not hold the creation's manifest: %v, %+v", err, m)
	}
	for i, data := range [][]byte{entries[0].Data, r.layout, r.index, cfg} {
		e := entries[i]
		if i == 3 {
			e = entries[4]
		}
		if string(e.Data) != string(data) || e.Digest != verify.Digest(data) || e.Size != int64(len(data)) {
			t.Errorf("in-memory entry %s: %d bytes, digest %s; want its bytes, %s", e.Name, e.Size, e.Digest, verify.Digest(data))
		}
	}
	for _, i := range []int{3, 5} {
		if e := entries[i]; e.Data != nil || e.Digest != r.blobs[i-3].Digest || e.Size != r.blobs[i-3].Size {
			t.Errorf("entry %s to pull: %+v", e.Name, e)
		}
	}
	if len(remote) != 2 || remote[0] != layer1 || remote[1] != layer2 {
		t.Errorf("blobs to pull: %v, want layer one and layer two", remote)
	}
	if held != int64(len(cfg)) {
		t.Errorf("bytes held in memory: %d, want %d", held, len(cfg))
	}
	if e := entries[6]; !e.Executable || e.Digest != files[0].Digest || e.Size != 3 || e.Data != nil {
		t.Errorf("the plain file unbundle: %+v", e)
	}
	if entries[7].Executable {
		t.Error("README is not executable")
	}
}
