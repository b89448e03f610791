package serve

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// completions is POST /v1/completions.
func (s *Server) completions(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	var req completionRequest
	if err := decode(r, s.opts.MaxBodyBytes, &req); err != nil {
		return err
	}
	j, err := s.newJob(req.sampling, info)
	if err != nil {
		return err
	}
	switch {
	case req.Echo:
		return unsupported("echo", "echo is not supported")
	case req.BestOf != nil && *req.BestOf != j.n:
		return unsupported("best_of", "best_of is not supported")
	case len(req.Suffix) > 0 && string(req.Suffix) != "null" && string(req.Suffix) != `""`:
		return unsupported("suffix", "suffix is not supported")
	case req.Prompt.len() == 0:
		return invalid("prompt", "field prompt is required")
	}
	if req.Logprobs != nil {
		if *req.Logprobs < 0 || *req.Logprobs > maxCompletionLogK {
			return invalid("logprobs", "logprobs %d: want 0 to %d", *req.Logprobs, maxCompletionLogK)
		}
		if j.sv.batcher == nil {
			return unsupported("logprobs", "logprobs are not supported by the model %q", j.sv.name)
		}
		j.logprobs = *req.Logprobs
	}
	for i, text := range req.Prompt.Texts {
		ids, err := j.encode(text, "prompt")
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return invalid("prompt", "prompt %d is empty", i)
		}
		j.prompts = append(j.prompts, ids)
	}
	j.prompts = append(j.prompts, req.Prompt.IDs...)
	if err := j.budget(req.MaxTokens, "max_tokens", 16); err != nil {
		return err
	}
	choices, err := j.start(r.Context())
	if err != nil {
		return err
	}
	id := "cmpl-" + info.id
	defer j.count(choices) // on an error too: the tokens made before it are billed
	head := func() map[string]any {
		return map[string]any{"id": id, "object": "text_completion", "created": created(), "model": j.sv.name}
	}
	if j.stream {
		sse := newSSE(w)
		err := j.run(r.Context(), choices, func(e event) error {
			out := head()
			c := map[string]any{"index": e.c.index, "text": e.text, "logprobs": j.completionLogprobs(e.tokens, 0), "finish_reason": nil}
			if e.done {
				c["finish_reason"] = e.c.finish
				if !j.usage && e.last {
					out["usage"] = j.usageOf(choices)
				}
			}
			out["choices"] = []any{c}
			return sse.send(out)
		})
		if err == nil {
			err = j.finish(choices)
		}
		if err != nil {
			return sse.fail(deadlineError(r.Context(), err))
		}
		if j.usage {
			out := head()
			out["choices"] = []any{}
			out["usage"] = j.usageOf(choices)
			sse.send(out)
		}
		return sse.done()
	}
	if err := j.run(r.Context(), choices, collect); err != nil {
		return deadlineError(r.Context(), err)
	}
	if err := j.finish(choices); err != nil {
		return err
	}
	out := head()
	var list []any
	for _, c := range choices {
		list = append(list, map[string]any{"index": c.index, "text": c.text.String(), "logprobs": j.completionLogprobs(c.tokens, 0), "finish_reason": c.finish})
	}
	out["choices"], out["usage"] = list, j.usageOf(choices)
	return writeJSON(w, out)
}

// collect gathers a choice's text and tokens for a response not streamed.
func collect(e event) error {
	e.c.text.WriteString(e.text)
	e.c.tokens = append(e.c.tokens, e.tokens...)
	return nil
}

// completionLogprobs is the legacy completions' logprobs object for tokens
// whose text starts at offset, or nil when none were asked for.
func (j *job) completionLogprobs(tokens []Token, offset int) any {
	if j.logprobs < 0 {
		return nil
	}
	tok := j.sv.lm.Tokenizer
	lp := map[string]any{"tokens": []string{}, "token_logprobs": []float32{}, "top_logprobs": []map[string]float32{}, "text_offset": []int{}}
	for _, t := range tokens {
		text := string(tok.TokenBytes(t.ID))
		top := map[string]float32{}
		for _, a := range t.Top {
			top[string(tok.TokenBytes(a.ID))] = a.Logprob
		}
		lp["tokens"] = append(lp["tokens"].([]string), text)
		lp["token_logprobs"] = append(lp["token_logprobs"].([]float32), t.Logprob)
		lp["top_logprobs"] = append(lp["top_logprobs"].([]map[string]float32), top)
		lp["text_offset"] = append(lp["text_offset"].([]int), offset)
		offset += len(text)
	}
	return lp
}

// chatCompletions is POST /v1/chat/completions.
func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	var req chatRequest
	if err := decode(r, s.opts.MaxBodyBytes, &req); err != nil {
		return err
	}
	j, err := s.newJob(req.sampling, info)
	if err != nil {
		return err
	}
	switch {
	case len(req.Messages) == 0:
		return invalid("messages", "field messages is required: at least one message")
	case len(req.Tools) > 0 && string(req.Tools) != "null":
		return unsupported("tools", "tools are not supported")
	case len(req.ToolChoice) > 0 && string(req.ToolChoice) != "null" && string(req.ToolChoice) != `"none"`:
		return unsupported("tool_choice", "tool_choice is not supported")
	case req.ResponseFormat != nil && req.ResponseFormat.Type != "text":
		return unsupported("response_format", "response_format %q is not supported: only text", req.ResponseFormat.Type)
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "developer", "user", "assistant":
		default:
			return invalid(fmt.Sprintf("messages[%d].role", i), "messages[%d].role %q: want system, developer, user or assistant", i, m.Role)
		}
		if m.Role == "developer" {
			req.Messages[i].Role = "system"
		}
	}
	if req.TopLogprobs != nil && !req.Logprobs {
		return invalid("top_logprobs", "top_logprobs needs logprobs true")
	}
	if req.Logprobs {
		if j.sv.batcher == nil {
			return unsupported("logprobs", "logprobs are not supported by the model %q", j.sv.name)
		}
		j.logprobs = 0
		if req.TopLogprobs != nil {
			if *req.TopLogprobs < 0 || *req.TopLogprobs > maxChatTopLogprobs {
				return invalid("top_logprobs", "top_logprobs %d: want 0 to %d", *req.TopLogprobs, maxChatTopLogprobs)
			}
			j.logprobs = *req.TopLogprobs
		}
	}
	prompt, err := j.sv.renderChat(req.Messages)
	if err != nil {
		return invalid("messages", "%v", err)
	}
	if j.sv.model.Card == nil || j.sv.model.Card.ChatTemplate == "" {
		j.stops = append(j.stops, chatStop)
	}
	ids, err := j.encode(prompt, "messages")
	if err != nil {
		return err
	}
	j.prompts = [][]int{ids}
	maxTokens, param := req.MaxTokens, "max_tokens"
	if req.MaxCompletionTokens != nil {
		maxTokens, param = req.MaxCompletionTokens, "max_completion_tokens"
	}
	if err := j.budget(maxTokens, param, 0); err != nil {
		return err
	}
	choices, err := j.start(r.Context())
	if err != nil {
		return err
	}
	id := "chatcmpl-" + info.id
	defer j.count(choices) // on an error too: the tokens made before it are billed
	head := func(object string) map[string]any {
		return map[string]any{"id": id, "object": object, "created": created(), "model": j.sv.name, "system_fingerprint": nil}
	}
	if j.stream {
		return s.streamChat(w, r.Context(), j, choices, head)
	}
	if err := j.run(r.Context(), choices, collect); err != nil {
		return deadlineError(r.Context(), err)
	}
	if err := j.finish(choices); err != nil {
		return err
	}
	out := head("chat.completion")
	var list []any
	for _, c := range choices {
		list = append(list, map[string]any{"index": c.index, "message": map[string]any{"role": "assistant", "content": c.text.String(), "refusal": nil},
			"logprobs": j.chatLogprobs(c.tokens), "finish_reason": c.finish})
	}
	out["choices"], out["usage"] = list, j.usageOf(choices)
	return writeJSON(w, out)
}

// streamChat streams a chat completion's chunks: a first delta with the
// role for each choice, then its content as it comes, then its finish.
func (s *Server) streamChat(w http.ResponseWriter, ctx context.Context, j *job, choices []*choice, head func(string) map[string]any) error {
	sse := newSSE(w)
	chunk := func(c map[string]any) error {
		out := head("chat.completion.chunk")
		out["choices"] = []any{c}
		return sse.send(out)
	}
	for _, c := range choices {
		if err := chunk(map[string]any{"index": c.index, "delta": map[string]any{"role": "assistant", "content": ""}, "logprobs": nil, "finish_reason": nil}); err != nil {
			return err
		}
	}
	err := j.run(ctx, choices, func(e event) error {
		if e.done {
			out := head("chat.completion.chunk")
			out["choices"] = []any{map[string]any{"index": e.c.index, "delta": map[string]any{}, "logprobs": nil, "finish_reason": e.c.finish}}
			if !j.usage && e.last {
				out["usage"] = j.usageOf(choices)
			}
			return sse.send(out)
		}
		return chunk(map[string]any{"index": e.c.index, "delta": map[string]any{"content": e.text}, "logprobs": j.chatLogprobs(e.tokens), "finish_reason": nil})
	})
	if err == nil {
		err = j.finish(choices)
	}
	if err != nil {
		return sse.fail(deadlineError(ctx, err))
	}
	if j.usage {
		out := head("chat.completion.chunk")
		out["choices"] = []any{}
		out["usage"] = j.usageOf(choices)
		sse.send(out)
	}
	return sse.done()
}

// chatLogprobs is the chat logprobs object for tokens, or nil when none
// were asked for.
func (j *job) chatLogprobs(tokens []Token) any {
	if j.logprobs < 0 {
		return nil
	}
	tok := j.sv.lm.Tokenizer
	entry := func(id int, lp float32) map[string]any {
		b := tok.TokenBytes(id)
		ints := make([]int, len(b))
		for i, x := range b {
			ints[i] = int(x)
		}
		return map[string]any{"token": strings.ToValidUTF8(string(b), "\uFFFD"), "logprob": lp, "bytes": ints}
	}
	content := []any{}
	for _, t := range tokens {
		e := entry(t.ID, t.Logprob)
		top := []any{}
		for _, a := range t.Top {
			top = append(top, entry(a.ID, a.Logprob))
		}
		e["top_logprobs"] = top
		content = append(content, e)
	}
	return map[string]any{"content": content, "refusal": nil}
}
