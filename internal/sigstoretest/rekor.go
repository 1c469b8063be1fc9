package sigstoretest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/rekor/pkg/util"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Entry is a Rekor v1 log entry: its canonical body, where and when it was logged, and the
// log's signed entry timestamp (SET) over those.
type Entry struct {
	Body           []byte
	IntegratedTime int64
	LogIndex       int64
	LogID          string // hex
	SET            []byte
}

// hashedRekord is the body Rekor logs for a signature over a payload's sha256 (cosign 2).
func hashedRekord(payload, sig, verifierPEM []byte) ([]byte, error) {
	h := sha256.Sum256(payload)
	return canonical(map[string]any{"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": map[string]any{
		"data":      map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(h[:])}},
		"signature": map[string]any{"content": sig, "publicKey": map[string]any{"content": verifierPEM}},
	}})
}

// dsseEntry is the body Rekor logs for a DSSE envelope (cosign 3's bundles).
func dsseEntry(envelope, payload, sig, verifierPEM []byte) ([]byte, error) {
	eh, ph := sha256.Sum256(envelope), sha256.Sum256(payload)
	return canonical(map[string]any{"apiVersion": "0.0.1", "kind": "dsse", "spec": map[string]any{
		"envelopeHash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(eh[:])},
		"payloadHash":  map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(ph[:])},
		"signatures":   []any{map[string]any{"signature": base64.StdEncoding.EncodeToString(sig), "verifier": verifierPEM}},
	}})
}

// log enters body at integrated, signing the SET as Rekor does: the canonical JSON of body
// (base64), integratedTime, logIndex and logID.
func (s *Sigstore) log(body []byte, integrated time.Time, index int64) (*Entry, error) {
	e := &Entry{Body: body, IntegratedTime: integrated.Unix(), LogIndex: index, LogID: hex.EncodeToString(s.logID)}
	set, err := s.SignSET(e)
	if err != nil {
		return nil, err
	}
	e.SET = set
	return e, nil
}

// SignSET signs e's fields with the log's key, as Rekor signs an entry timestamp. Tests use
// it to make an entry whose SET is valid for altered fields.
func (s *Sigstore) SignSET(e *Entry) ([]byte, error) {
	c, err := canonical(map[string]any{"body": base64.StdEncoding.EncodeToString(e.Body), "integratedTime": e.IntegratedTime,
		"logIndex": e.LogIndex, "logID": e.LogID})
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(c)
	return ecdsa.SignASN1(rand.Reader, s.rekorKey, h[:])
}

// transparencyLogEntry is e as a bundle carries it, with an inclusion proof in a tree of one
// leaf (the entry, logged at index 0) and a checkpoint signed by the log.
func (s *Sigstore) transparencyLogEntry(e *Entry, kind string) (*protorekor.TransparencyLogEntry, error) {
	leaf := sha256.Sum256(append([]byte{0}, e.Body...))
	signer, err := signature.LoadECDSASignerVerifier(s.rekorKey, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	cp, err := util.CreateAndSignCheckpoint(context.Background(), "rekor.sigstoretest.invalid", 1, 1, leaf[:], signer)
	if err != nil {
		return nil, err
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex: 0, LogId: &protocommon.LogId{KeyId: s.logID}, KindVersion: &protorekor.KindVersion{Kind: kind, Version: "0.0.1"},
		IntegratedTime: e.IntegratedTime, InclusionPromise: &protorekor.InclusionPromise{SignedEntryTimestamp: e.SET},
		InclusionProof: &protorekor.InclusionProof{LogIndex: 0, RootHash: leaf[:], TreeSize: 1, Hashes: [][]byte{},
			Checkpoint: &protorekor.Checkpoint{Envelope: string(cp)}},
		CanonicalizedBody: e.Body,
	}, nil
}

// canonical is v as RFC 8785 canonical JSON ([]byte values as base64, as encoding/json does).
func canonical(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return jsoncanonicalizer.Transform(b)
}
