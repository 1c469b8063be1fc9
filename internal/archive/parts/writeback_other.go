//go:build !linux

package parts

import "os"

// startWriteback is a no-op where sync_file_range does not exist: Commit's sync does it all.
func startWriteback(*os.File, int64, int64) {}

func adviseSequential(*os.File) {}
