package digests

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Callers test them with errors.Is; every error from Parse, ParseFile and
// ParseConfigMap about the content of a list matches ErrInvalidList.
var (
	// ErrInvalidList: the image list breaks a rule (a missing field, a bad digest, an unknown key...).
	ErrInvalidList = errors.New("invalid image list")
	// ErrSyntax: the input is not well-formed YAML. It also matches ErrInvalidList.
	ErrSyntax = fmt.Errorf("%w: malformed YAML", ErrInvalidList)
	// ErrEmptyList: the list names no image. It also matches ErrInvalidList.
	ErrEmptyList = fmt.Errorf("%w: no images", ErrInvalidList)
	// ErrNoMatch: an include or exclude pattern matches no entry of the list.
	ErrNoMatch = errors.New("pattern matches nothing")
	// ErrEmptySelection: include and exclude together leave no image.
	ErrEmptySelection = errors.New("selection leaves no image")
	// ErrNoDigest: an image has no digest where one is required (the ConfigMap).
	ErrNoDigest = errors.New("image has no digest")
	// ErrInvalidName: a Kubernetes object name or namespace is not a DNS-1123 name.
	ErrInvalidName = errors.New("invalid Kubernetes name")
	// ErrInvalidConfigMap: a ConfigMap does not have the shape ConfigMap writes.
	ErrInvalidConfigMap = errors.New("invalid ConfigMap")
	// ErrInvalidCredentials: the Secret's server, username or password is unusable.
	ErrInvalidCredentials = errors.New("invalid registry credentials")
)

// ListError is one problem in an image list, located in its source when it has one.
// Its text is "file:line[:column]: [component.container: ]message"; the position is left out
// when File is empty, the line when Line is 0. Err is the sentinel it matches (errors.Is).
type ListError struct {
	File   string // as given to Parse, or the path given to ParseFile; "" for images not read from a file
	Line   int    // 1-based; 0 when unknown
	Column int    // 1-based; set for malformed YAML only
	Key    string // "component.container", "component", or "" when no entry is concerned
	Msg    string
	Err    error // ErrInvalidList, ErrSyntax, ErrEmptyList or ErrNoDigest
}

func (e *ListError) Error() string {
	s := ""
	if e.File != "" {
		s = e.File
		if e.Line > 0 {
			s += ":" + strconv.Itoa(e.Line)
			if e.Column > 0 {
				s += ":" + strconv.Itoa(e.Column)
			}
		}
		s += ": "
	}
	if e.Key != "" {
		s += e.Key + ": "
	}
	return s + e.Msg
}

func (e *ListError) Unwrap() error { return e.Err }

// ExtraError is an image given one by one (ParseExtra) that cannot be used: the command line
// names the flag it came from. Its text is `"SPEC": ERR[: MSG]`.
type ExtraError struct {
	Spec string // as given: REFERENCE or COMPONENT.CONTAINER=REFERENCE
	Err  error  // what it matches: ErrInvalidList, or imageref's error for a bad reference
	Msg  string // what is wrong, when Err does not say it all; "" otherwise
}

func (e *ExtraError) Error() string {
	if e.Msg == "" {
		return fmt.Sprintf("%q: %v", e.Spec, e.Err)
	}
	return fmt.Sprintf("%q: %v: %s", e.Spec, e.Err, e.Msg)
}

func (e *ExtraError) Unwrap() error { return e.Err }

// TakenError is an image given one by one whose name (AddExtra) another image has already:
// the operator names it with COMPONENT.CONTAINER=REFERENCE. It matches ErrInvalidList.
type TakenError struct {
	Ref string // the image's reference
	Key string // the name taken: component.container
	By  string // the reference of the other image given one by one that has it; "" for the image list
}

func (e *TakenError) Error() string {
	by := "the image list"
	if e.By != "" {
		by = e.By
	}
	return fmt.Sprintf("%s: %v: %s is taken by %s", e.Ref, ErrInvalidList, e.Key, by)
}

func (e *TakenError) Unwrap() error { return ErrInvalidList }
