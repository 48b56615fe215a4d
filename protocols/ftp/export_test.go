package ftp

import "time"

// WithFolderDelay makes each folder a disk worker opens for a listing wait
// d first, standing for a cold disk: a listing that ran on the event loop
// instead would stall every session of that loop for d. Tests only.
func WithFolderDelay(d time.Duration) Option { return func(c *config) { c.folderDelay = d } }
