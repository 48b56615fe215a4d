package ftp

import "strings"

// Paths are virtual (RFC 3659 §6, TVFS): "/" is the user's root folder and
// every path a client names is resolved against the session's current
// folder into a clean absolute virtual path, then handed to the user's
// os.Root as a relative name. os.Root refuses names whose symlinks lead
// outside the root; resolve refuses a ".." that would climb above it.

// resolve returns the clean absolute virtual path that arg names from the
// folder cwd (itself clean and absolute). ok is false when a ".." would climb
// above "/" or arg holds a NUL byte; clamp makes such a ".." stay at "/"
// instead, as CWD and CDUP do.
func resolve(cwd, arg string, clamp bool) (vpath string, ok bool) {
	if strings.IndexByte(arg, 0) >= 0 {
		return "", false
	}
	var parts []string
	if !strings.HasPrefix(arg, "/") {
		parts = strings.Split(strings.TrimPrefix(cwd, "/"), "/")
		if len(parts) == 1 && parts[0] == "" {
			parts = parts[:0]
		}
	}
	for _, p := range strings.Split(arg, "/") {
		switch p {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				if !clamp {
					return "", false
				}
				continue
			}
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, p)
		}
	}
	return "/" + strings.Join(parts, "/"), true
}

// rel turns a clean absolute virtual path into the name os.Root takes.
func rel(vpath string) string {
	if vpath == "/" {
		return "."
	}
	return vpath[1:]
}

// base returns the last element of a clean absolute virtual path ("/" for
// the root).
func base(vpath string) string {
	if vpath == "/" {
		return "/"
	}
	return vpath[strings.LastIndexByte(vpath, '/')+1:]
}

// dir returns the folder holding a clean absolute virtual path.
func dir(vpath string) string {
	i := strings.LastIndexByte(vpath, '/')
	if i <= 0 {
		return "/"
	}
	return vpath[:i]
}

// quote doubles the double quotes of a path for a 257 reply (RFC 959
// Appendix II) and makes CR and LF harmless on the control connection.
func quote(vpath string) string {
	return strings.ReplaceAll(safe(vpath), `"`, `""`)
}

// safe replaces CR and LF, which could forge reply lines on the control
// connection, with '?'.
func safe(s string) string {
	if strings.IndexAny(s, "\r\n") < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return '?'
		}
		return r
	}, s)
}
