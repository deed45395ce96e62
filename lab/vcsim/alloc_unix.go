package main

import (
	"os"
	"syscall"
)

// allocated returns the bytes a file occupies on disk (sparse-aware).
func allocated(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
