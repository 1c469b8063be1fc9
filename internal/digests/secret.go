package digests

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Secret renders the kubernetes.io/dockerconfigjson Secret that
//
//	kubectl create secret docker-registry NAME --docker-server=SERVER \
//	  --docker-username=USERNAME --docker-password=PASSWORD -n NAMESPACE --dry-run=client -o yaml
//
// makes (without its "creationTimestamp: null"): keys apiVersion, data, kind, metadata (name,
// namespace), type; data[".dockerconfigjson"] is the base64 of
// {"auths":{"SERVER":{"username":"USERNAME","password":"PASSWORD","auth":"base64(USERNAME:PASSWORD)"}}},
// in kubectl's field order. server must be the image_repository_server string of the ConfigMap,
// as the operator matches secrets to images by that exact string.
//
// name must be a DNS-1123 subdomain and namespace a DNS-1123 label (ErrInvalidName); server a
// host[:port], username non-empty without ':', password non-empty, both valid UTF-8
// (ErrInvalidCredentials). No error ever contains the password.
func Secret(name, namespace, server, username, password string) ([]byte, error) {
	if err := checkObjectNames(name, namespace); err != nil {
		return nil, err
	}
	switch {
	case !serverRE.MatchString(server):
		return nil, fmt.Errorf("%w: server %q is not a host[:port]", ErrInvalidCredentials, server)
	case username == "" || strings.Contains(username, ":") || !utf8.ValidString(username):
		return nil, fmt.Errorf("%w: the username must be non-empty valid UTF-8 without ':'", ErrInvalidCredentials)
	case password == "" || !utf8.ValidString(password):
		return nil, fmt.Errorf("%w: the password must be non-empty valid UTF-8", ErrInvalidCredentials)
	}
	cfg, err := json.Marshal(dockerConfigJSON{Auths: map[string]dockerConfigEntry{server: {
		Username: username,
		Password: password,
		Auth:     base64.StdEncoding.EncodeToString([]byte(username + ":" + password)),
	}}})
	if err != nil {
		return nil, fmt.Errorf("encode .dockerconfigjson: %w", ErrInvalidCredentials) // never the password
	}
	return encodeYAML(mapping(
		"apiVersion", "v1",
		"data", mapping(".dockerconfigjson", base64.StdEncoding.EncodeToString(cfg)),
		"kind", "Secret",
		"metadata", mapping("name", name, "namespace", namespace),
		"type", "kubernetes.io/dockerconfigjson",
	))
}

// dockerConfigJSON and dockerConfigEntry mirror k8s.io/kubectl's types, so that encoding/json
// writes the same bytes (field order, omitempty, HTML escaping).
type dockerConfigJSON struct {
	Auths map[string]dockerConfigEntry `json:"auths"`
}

type dockerConfigEntry struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Email    string `json:"email,omitempty"`
	Auth     string `json:"auth,omitempty"`
}
