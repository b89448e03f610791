package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/sample"
	"github.com/moxing/moxing/tokenizer"
)

// generateText streams the continuation of prompt to w as the tokens come
// (whole UTF-8 characters only, see tokenizer.Stream). It stops after
// maxTokens, at stop (which is not printed), or when ctx is cancelled (not
// an error: the user asked). Warnings go to warn.
func generateText(ctx context.Context, w, warn io.Writer, lm *load.LanguageModel, prompt string, maxTokens int, cfg sample.Config, seed uint64, stop string) error {
	lossy := tokenizer.NewLossy(lm.Tokenizer)
	ids, err := lossy.Encode(prompt)
	noteReplaced(warn, lossy, "the prompt")
	if err != nil {
		return fmt.Errorf("prompt: %w", err)
	}
	if len(ids) == 0 {
		return usagef("the prompt is empty: give at least one character with --prompt")
	}
	if win := lm.Model.Window(); win > 0 && len(ids) >= win {
		fmt.Fprintf(warn, "warning: the prompt has %d tokens; only the last %d fit the context window\n", len(ids), win-1)
	}
	s := sample.New(cfg, rand.New(rand.NewPCG(seed, 0)))
	st := tokenizer.NewStream(lm.Tokenizer, stop)
	for id := range lm.Model.Generate(ctx, ids, maxTokens, s) {
		text, stopped := st.Next(id)
		if _, err := io.WriteString(w, text); err != nil || stopped {
			return err
		}
	}
	text, _ := st.Flush()
	_, err = io.WriteString(w, text)
	return err
}

// noteReplaced says, in one line, how many characters of what a
// character vocabulary lacked (they became tokenizer.Unknown).
func noteReplaced(w io.Writer, l *tokenizer.Lossy, what string) {
	if n := l.Replaced(); n > 0 {
		fmt.Fprintf(w, "note: %d characters of %s are not in the model's vocabulary; they were read as the unknown character U+FFFD\n", n, what)
	}
}
