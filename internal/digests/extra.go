package digests

import (
	"regexp"
	"strings"

	"github.com/element-hq/ess-airgap/internal/imageref"
)

// ExtraComponent is the component of the images given one by one (bundle create --image)
// rather than by an image list or a chart: an operator finds them as extra.<container> in
// bundle list, the ConfigMap and the report.
const ExtraComponent = "extra"

var nameChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// ParseExtra reads one image given one by one: a reference as `docker pull` takes it (postgres:17,
// quay.io/jetstack/cert-manager-controller:v1.15.0, HOST/PATH@sha256:...), named
// extra.<last path element> (characters other than letters, digits, '_' and '-' as '_'), or
// COMPONENT.CONTAINER=REFERENCE to name it. The reference is read as Docker reads it
// (imageref.Parse): no tag and no digest is the tag latest. Its errors are *ExtraError.
func ParseExtra(spec string) (Image, error) {
	key, ref, named := strings.Cut(spec, "=")
	if !named {
		ref = spec
	}
	r, err := imageref.Parse(ref)
	if err != nil {
		return Image{}, &ExtraError{Spec: spec, Err: err}
	}
	img := Image{Entry: imageref.Entry{Component: ExtraComponent, Container: nameChars.ReplaceAllString(r.Path[strings.LastIndex(r.Path, "/")+1:], "_"),
		Server: r.Server, Path: r.Path, Tag: r.Tag}, Digest: r.Digest}
	if named {
		comp, cont, ok := strings.Cut(key, ".")
		if !ok || checkName("component", comp) != "" || checkName("container", cont) != "" {
			return Image{}, &ExtraError{Spec: spec, Err: ErrInvalidList, Msg: "want COMPONENT.CONTAINER=REFERENCE, names of letters, digits, '_' and '-'"}
		}
		img.Component, img.Container = comp, cont
	}
	for _, p := range checkImage(img) {
		return Image{}, &ExtraError{Spec: spec, Err: ErrInvalidList, Msg: p.msg}
	}
	return img, nil
}

// AddExtra returns l (which may be nil) with the extra images added, sorted as Parse sorts.
// Two entries of one key are refused, naming both (*TakenError): name one with
// COMPONENT.CONTAINER=REFERENCE.
func AddExtra(l *List, extra []Image) (*List, error) {
	out := &List{}
	if l != nil {
		out.File = l.File
		out.Images = append(out.Images, l.Images...)
	}
	where := map[string]string{} // the reference of the extra image with the key; "" for the list
	for _, im := range out.Images {
		where[im.Key()] = ""
	}
	for _, im := range extra {
		if w, ok := where[im.Key()]; ok {
			return nil, &TakenError{Ref: im.Ref(), Key: im.Key(), By: w}
		}
		where[im.Key()] = im.Ref()
		out.Images = append(out.Images, im)
	}
	sortImages(out.Images)
	return out, nil
}
