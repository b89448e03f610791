package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/moxing/moxing/load"
	"github.com/moxing/moxing/sample"
)

// generateText streams the continuation of prompt to w as the tokens come
// (whole UTF-8 characters only, see tokenizer.Stream). It stops after
// maxTokens, at stop (which is not printed), or when ctx is cancelled (not
// an error: the user asked). Warnings go to warn.
func generateText(ctx context.Context, w, warn io.Writer, lm *load.LanguageModel, prompt string, maxTokens int, cfg sample.Config, seed uint64, stop string) error {
	c, err := lm.Complete(ctx, w, prompt, maxTokens, cfg, seed, stop)
	if c.Replaced > 0 {
		fmt.Fprintf(warn, "note: %d characters of the prompt are not in the model's vocabulary; they were read as the unknown character U+FFFD\n", c.Replaced)
	}
	if c.Cropped {
		fmt.Fprintf(warn, "warning: the prompt has %d tokens; only the last %d fit the context window\n", c.PromptTokens, lm.Model.Window()-1)
	}
	if errors.Is(err, load.ErrEmptyPrompt) {
		return usagef("the prompt is empty: give at least one character with --prompt")
	}
	return err
}
