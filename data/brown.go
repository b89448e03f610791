package data

import "strings"

// BrownText turns a file of the Brown corpus (tokens tagged "word/tag",
// one sentence per line) into plain text: the words of each line joined
// by spaces, the quote tokens “ and ” made into ", and blank lines kept.
func BrownText(src string) string {
	var b strings.Builder
	for _, line := range strings.Split(src, "\n") {
		fields := strings.Fields(line)
		for i, f := range fields {
			if j := strings.LastIndexByte(f, '/'); j > 0 {
				f = f[:j]
			}
			if f == "``" || f == "''" {
				f = `"`
			}
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(f)
		}
		if len(fields) > 0 || b.Len() > 0 {
			b.WriteByte('\n')
		}
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}
