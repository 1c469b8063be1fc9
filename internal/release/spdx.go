package release

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"
)

// The SPDX 2.3 document (https://spdx.github.io/spdx-spec/v2.3/), as much of it as an SBOM of
// a Go binary needs: the binary, the main module, the Go standard library and every module
// linked in, with package URLs, as `go version -m` lists them.
type spdxDoc struct {
	SPDXVersion       string         `json:"spdxVersion"`
	DataLicense       string         `json:"dataLicense"`
	SPDXID            string         `json:"SPDXID"`
	Name              string         `json:"name"`
	DocumentNamespace string         `json:"documentNamespace"`
	CreationInfo      spdxCreation   `json:"creationInfo"`
	Packages          []spdxPackage  `json:"packages"`
	Relationships     []spdxRelation `json:"relationships"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string         `json:"name"`
	SPDXID           string         `json:"SPDXID"`
	VersionInfo      string         `json:"versionInfo,omitempty"`
	DownloadLocation string         `json:"downloadLocation"`
	FilesAnalyzed    bool           `json:"filesAnalyzed"`
	Checksums        []spdxChecksum `json:"checksums,omitempty"`
	ExternalRefs     []spdxRef      `json:"externalRefs,omitempty"`
	PrimaryPurpose   string         `json:"primaryPackagePurpose,omitempty"`
	Comment          string         `json:"comment,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelation struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

// SPDX returns the SPDX 2.3 JSON SBOM of the Go binary at path: the binary itself (its
// sha256), the main module at version, the standard library of the Go that built it and
// every module it links (replacements applied), read from the build information Go records
// in the binary. created is the document's creation time (the build date, for a reproducible
// document).
func SPDX(path, version string, created time.Time) ([]byte, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	name := filepath.Base(path)
	doc := spdxDoc{SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT", Name: name,
		DocumentNamespace: "https://github.com/element-hq/ess-airgap/spdx/" + name + "-" + hex.EncodeToString(sum[:]),
		CreationInfo:      spdxCreation{Created: created.UTC().Format(time.RFC3339), Creators: []string{"Tool: ess-airgap-release", "Organization: Element"}}}
	var settings []string
	for _, s := range bi.Settings {
		settings = append(settings, s.Key+"="+s.Value)
	}
	doc.Packages = append(doc.Packages, spdxPackage{Name: name, SPDXID: "SPDXRef-Binary", VersionInfo: version,
		DownloadLocation: "NOASSERTION", Checksums: []spdxChecksum{{"SHA256", hex.EncodeToString(sum[:])}},
		PrimaryPurpose: "APPLICATION", Comment: "Go build settings: " + strings.Join(settings, " ")})
	doc.Relationships = append(doc.Relationships, spdxRelation{"SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Binary"})
	add := func(id, pkgName, ver, purl, comment string) {
		doc.Packages = append(doc.Packages, spdxPackage{Name: pkgName, SPDXID: id, VersionInfo: ver, DownloadLocation: "NOASSERTION",
			ExternalRefs: []spdxRef{{"PACKAGE-MANAGER", "purl", purl}}, PrimaryPurpose: "LIBRARY", Comment: comment})
		doc.Relationships = append(doc.Relationships, spdxRelation{"SPDXRef-Binary", "CONTAINS", id})
	}
	add("SPDXRef-Main", bi.Main.Path, version, purl(bi.Main.Path, version), "the main module")
	add("SPDXRef-Stdlib", "stdlib", bi.GoVersion, purl("stdlib", bi.GoVersion), "the Go standard library and runtime")
	deps := append([]*debug.Module(nil), bi.Deps...)
	sort.Slice(deps, func(i, j int) bool { return deps[i].Path < deps[j].Path })
	for i, d := range deps {
		comment := ""
		if d.Sum != "" {
			comment = "go.sum " + d.Sum
		}
		if r := d.Replace; r != nil {
			comment = fmt.Sprintf("replaced by %s %s %s", r.Path, r.Version, r.Sum)
			d = r
		}
		add(fmt.Sprintf("SPDXRef-Module-%d", i+1), d.Path, d.Version, purl(d.Path, d.Version), strings.TrimSpace(comment))
	}
	return json.MarshalIndent(doc, "", "  ")
}

// purl is the package URL of a Go module (https://github.com/package-url/purl-spec).
func purl(path, version string) string {
	p := "pkg:golang/" + path
	if version != "" {
		p += "@" + strings.ReplaceAll(version, "+", "%2B") // v29.7.2+incompatible
	}
	return p
}
