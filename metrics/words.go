package metrics

import (
	"slices"
	"strings"
	"unicode"
)

// WordsSeen counts the identifier-like words of text (letters, digits and
// underscores, starting with a letter or underscore) and how many of them
// occur in corpus as words: how much of a language model's output is
// made of words it read (moxing demo reports it for generated Go).
func WordsSeen(text, corpus string) (seen, words int) {
	known := map[string]bool{}
	for _, w := range identifiers(corpus) {
		known[w] = true
	}
	for _, w := range identifiers(text) {
		words++
		if known[w] {
			seen++
		}
	}
	return seen, words
}

// identifiers splits s into its identifier-like words.
func identifiers(s string) []string {
	words := strings.FieldsFunc(s, func(r rune) bool { return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') })
	return slices.DeleteFunc(words, func(w string) bool { return unicode.IsDigit([]rune(w)[0]) })
}
