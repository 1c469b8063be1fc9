package oci

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
)

// CanPush asks whether repo takes a push: it opens an upload session there (the permission
// check registries make, creating nothing) and cancels it. A refusal is a StatusError; for
// 401 and 403 it carries the registry's reason from a GET of the repository's tags when the
// refusal itself gave none (Harbor says "project X not found" there only).
func (s *Session) CanPush(ctx context.Context, repo string) error {
	what := "push to " + s.host + "/" + repo
	loc, err := s.startUpload(ctx, repo, what)
	if err != nil {
		if se, ok := err.(*StatusError); ok && (se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden) {
			if _, lerr := s.ListTags(ctx, repo); lerr != nil {
				if le, ok := lerr.(*StatusError); ok && harborProject.MatchString(le.Message) {
					se.Message = le.Message
				}
			}
		}
		return err
	}
	s.cancelUpload(ctx, loc)
	return nil
}

// harborProject matches Harbor's reason for a repository of a project that does not exist.
var harborProject = regexp.MustCompile(`project (\S+) not found`)

// MissingProject returns the Harbor project an error says does not exist, if it says so.
func MissingProject(err error) (string, bool) {
	if m := harborProject.FindStringSubmatch(fmt.Sprint(err)); m != nil {
		return m[1], true
	}
	return "", false
}

// cancelUpload deletes an upload session, as best it can.
func (s *Session) cancelUpload(ctx context.Context, loc string) {
	if resp, err := s.do(ctx, http.MethodDelete, s.resolve(loc), nil, -1, ""); err == nil {
		resp.Body.Close()
	}
}

// BodyLimit reports whether the registry, or a proxy in front of it, refuses a request body of
// n bytes with 413 (nginx's client_max_body_size, Cloudflare's 100 MB): it sends n zero bytes
// into an upload session of repo, which it then cancels.
func (s *Session) BodyLimit(ctx context.Context, repo string, n int64) (refused bool, err error) {
	what := fmt.Sprintf("send %d bytes to %s/%s", n, s.host, repo)
	loc, err := s.startUpload(ctx, repo, what)
	if err != nil {
		return false, err
	}
	defer s.cancelUpload(ctx, loc)
	req, err := http.NewRequestWithContext(withPushIf(ctx, s.push), http.MethodPatch, s.resolve(loc), bytes.NewReader(make([]byte, n)))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Content-Range", fmt.Sprintf("0-%d", n-1))
	resp, err := s.c.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("%s: %w", what, stripURL(err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusAccepted, http.StatusNoContent:
		return false, nil
	case http.StatusRequestEntityTooLarge:
		return true, nil
	}
	return false, statusError(resp, what)
}
