package cloudhash

// globMatch reports whether s matches the glob pattern p with the rules of
// Redis's stringmatchlen (util.c), which SCAN MATCH, KEYS and CONFIG GET
// use: * any run, ? any byte, [abc], [^abc], [a-z] classes, \ quotes the
// next byte. Case-sensitive. Stars are matched iteratively with one
// backtracking point, so no pattern takes more than O(len(p)·len(s)).
func globMatch(p, s []byte) bool {
	starP, starS := -1, 0
	i, j := 0, 0
	for j < len(s) {
		if i < len(p) {
			switch p[i] {
			case '*':
				for i < len(p) && p[i] == '*' {
					i++
				}
				if i == len(p) {
					return true
				}
				starP, starS = i, j
				continue
			case '?':
				i++
				j++
				continue
			case '[':
				if end, ok := matchClass(p, i, s[j]); ok {
					i = end
					j++
					continue
				}
			case '\\':
				if i+1 < len(p) {
					if p[i+1] == s[j] {
						i += 2
						j++
						continue
					}
				} else if s[j] == '\\' {
					i++
					j++
					continue
				}
			default:
				if p[i] == s[j] {
					i++
					j++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		i, j = starP, starS
	}
	for i < len(p) && p[i] == '*' {
		i++
	}
	return i == len(p)
}

// matchClass matches c against the class starting at p[i] == '[' and
// returns the index after the class and whether c is in it. An unclosed
// class runs to the end of the pattern, as in Redis.
func matchClass(p []byte, i int, c byte) (int, bool) {
	i++
	not := i < len(p) && p[i] == '^'
	if not {
		i++
	}
	match := false
	for i < len(p) && p[i] != ']' {
		switch {
		case p[i] == '\\' && i+1 < len(p):
			i++
			if p[i] == c {
				match = true
			}
		case i+2 < len(p) && p[i+1] == '-':
			lo, hi := p[i], p[i+2]
			if lo > hi {
				lo, hi = hi, lo
			}
			if c >= lo && c <= hi {
				match = true
			}
			i += 2
		case p[i] == c:
			match = true
		}
		i++
	}
	if i < len(p) {
		i++ // the ']'
	}
	return i, match != not
}
