package cli

import (
	"os"
	"strconv"
	"time"
)

// createdTime is $SOURCE_DATE_EPOCH when set (reproducible builds), else now.
func createdTime() (time.Time, error) {
	t, err := sourceDateEpoch()
	if err == nil && t.IsZero() {
		t = time.Now().UTC()
	}
	return t, err
}

// sourceDateEpoch is $SOURCE_DATE_EPOCH, or the zero time when it is not set.
func sourceDateEpoch() (time.Time, error) {
	s := os.Getenv("SOURCE_DATE_EPOCH")
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, usagef("SOURCE_DATE_EPOCH=%q: not a number of seconds", s)
	}
	return time.Unix(n, 0).UTC(), nil
}
