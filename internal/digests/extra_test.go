package digests

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseExtra(t *testing.T) {
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for spec, want := range map[string]string{
		"postgres:17": "extra.postgres=docker.io/library/postgres:17",
		"quay.io/jetstack/cert-manager-controller:v1.15.0":                    "extra.cert-manager-controller=quay.io/jetstack/cert-manager-controller:v1.15.0",
		"registry.k8s.io/ingress-nginx/controller.v1@" + dg:                   "extra.controller_v1=registry.k8s.io/ingress-nginx/controller.v1@" + dg,
		"ingress.controller=registry.k8s.io/ingress-nginx/controller:v1.11.2": "ingress.controller=registry.k8s.io/ingress-nginx/controller:v1.11.2",
		"redis": "extra.redis=docker.io/library/redis:latest",
	} {
		im, err := ParseExtra(spec)
		if err != nil || im.Key()+"="+im.Ref() != want {
			t.Errorf("ParseExtra(%q) = %s=%s, %v; want %s", spec, im.Key(), im.Ref(), err, want)
		}
	}
	for bad, invalidList := range map[string]bool{"": false, "UPPER:1": false, "a=postgres": true, "a.b.c=postgres": true,
		"x y=postgres": true, "https://ghcr.io/x": false, "a.b=postgres:1@sha256:0": false} {
		_, err := ParseExtra(bad)
		var xe *ExtraError
		if !errors.As(err, &xe) || xe.Spec != bad || errors.Is(err, ErrInvalidList) != invalidList ||
			!strings.HasPrefix(err.Error(), strconv.Quote(bad)+": ") || strings.Contains(err.Error(), "--image") {
			t.Errorf("ParseExtra(%q) = %v, want an *ExtraError naming it (ErrInvalidList: %v), no flag", bad, err, invalidList)
		}
	}
}

func TestAddExtra(t *testing.T) {
	l, err := Parse("t.yml", []byte("images_digests:\n  extra:\n    redis:\n      image_repository_server: docker.io\n      image_repository_path: library/redis\n      image_tag: '7'\n"))
	if err != nil {
		t.Fatal(err)
	}
	pg, _ := ParseExtra("postgres:17")
	got, err := AddExtra(l, []Image{pg})
	if err != nil || len(got.Images) != 2 || got.Images[0].Key() != "extra.postgres" || len(l.Images) != 1 {
		t.Fatalf("AddExtra: %v, %+v", err, got)
	}
	rd, _ := ParseExtra("redis:8")
	var te *TakenError
	if _, err := AddExtra(l, []Image{rd}); !errors.Is(err, ErrInvalidList) || !errors.As(err, &te) || te.By != "" ||
		err.Error() != "docker.io/library/redis:8: invalid image list: extra.redis is taken by the image list" {
		t.Errorf("a key of the list: %v", err)
	}
	a, _ := ParseExtra("a.io/x/postgres:1")
	if _, err := AddExtra(nil, []Image{pg, a}); !errors.As(err, &te) || te.Ref != "a.io/x/postgres:1" || te.Key != "extra.postgres" ||
		te.By != "docker.io/library/postgres:17" || strings.Contains(err.Error(), "--image") {
		t.Errorf("two extras of one name: %v, want a *TakenError naming both, no flag", err)
	}
	if got, err := AddExtra(nil, []Image{pg}); err != nil || len(got.Images) != 1 {
		t.Errorf("extras alone: %v", err)
	}
}
