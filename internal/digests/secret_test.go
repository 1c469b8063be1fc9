package digests

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestSecretGolden(t *testing.T) {
	got, err := Secret("local-registry", "element-onprem", "localregistry.local:5000", "element", "s3cr&t<>")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "secret.golden.yaml", got)

	var s struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Type       string            `yaml:"type"`
		Metadata   map[string]string `yaml:"metadata"`
		Data       map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(got, &s); err != nil {
		t.Fatal(err)
	}
	if s.APIVersion != "v1" || s.Kind != "Secret" || s.Type != "kubernetes.io/dockerconfigjson" ||
		s.Metadata["name"] != "local-registry" || s.Metadata["namespace"] != "element-onprem" || len(s.Data) != 1 {
		t.Errorf("unexpected Secret: %+v", s)
	}
	cfg, err := base64.StdEncoding.DecodeString(s.Data[".dockerconfigjson"])
	if err != nil {
		t.Fatal(err)
	}
	// json.Marshal escapes & < > as kubectl's does; auth is base64("element:s3cr&t<>").
	want := `{"auths":{"localregistry.local:5000":{"username":"element","password":"s3cr\u0026t\u003c\u003e","auth":"ZWxlbWVudDpzM2NyJnQ8Pg=="}}}`
	if string(cfg) != want {
		t.Errorf(".dockerconfigjson = %s\nwant %s", cfg, want)
	}
}

// TestSecretMatchesKubectl checks the .dockerconfigjson against one written by kubectl
// (kubectl create secret docker-registry ... --docker-email=..., with the email removed: we
// write none, as kubectl does without --docker-email).
func TestSecretMatchesKubectl(t *testing.T) {
	const kubectl = `{"auths":{"myprivateregistry.com:5000":{"username":"docker_user","password":"dock_password","email":"dock_user@myprivateregistry.com","auth":"ZG9ja2VyX3VzZXI6ZG9ja19wYXNzd29yZA=="}}}`
	want := strings.Replace(kubectl, `"email":"dock_user@myprivateregistry.com",`, "", 1)
	out, err := Secret("n", "ns", "myprivateregistry.com:5000", "docker_user", "dock_password")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	if got, _ := base64.StdEncoding.DecodeString(s.Data[".dockerconfigjson"]); string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSecretInvalid(t *testing.T) {
	const password = "hunter2-do-not-print"
	tests := []struct {
		name, secret, namespace, server, username, password string
		is                                                  error
	}{
		{"bad name", "Local_Registry", "ns", "localregistry.local", "u", password, ErrInvalidName},
		{"bad namespace", "n", "name.space", "localregistry.local", "u", password, ErrInvalidName},
		{"server with scheme", "n", "ns", "https://localregistry.local", "u", password, ErrInvalidCredentials},
		{"server with path", "n", "ns", "localregistry.local/prefix", "u", password, ErrInvalidCredentials},
		{"empty server", "n", "ns", "", "u", password, ErrInvalidCredentials},
		{"empty username", "n", "ns", "localregistry.local", "", password, ErrInvalidCredentials},
		{"username with colon", "n", "ns", "localregistry.local", "u:v", password, ErrInvalidCredentials},
		{"username not UTF-8", "n", "ns", "localregistry.local", "u\xff", password, ErrInvalidCredentials},
		{"password not UTF-8", "n", "ns", "localregistry.local", "u", password + "\xff", ErrInvalidCredentials},
		{"empty password", "n", "ns", "localregistry.local", "u", "", ErrInvalidCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Secret(tt.secret, tt.namespace, tt.server, tt.username, tt.password)
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v\n%s", err, tt.is, out)
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}
