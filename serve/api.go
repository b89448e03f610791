package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// The request bodies of the OpenAI-compatible routes. Fields are OpenAI's;
// TopK and RepetitionPenalty are the usual extensions (vLLM's names).
// Decoding is strict: an unknown field or a value of the wrong type is a
// 400 naming the field. OpenAI fields moxing does not implement are
// accepted only at their neutral value (a 422 otherwise), so a client
// never gets silently different behaviour.

// sampling holds the settings shared by both completion routes.
type sampling struct {
	Model             string          `json:"model"`
	MaxTokens         *int            `json:"max_tokens"`
	Temperature       *float64        `json:"temperature"`
	TopP              *float64        `json:"top_p"`
	TopK              int             `json:"top_k"`
	RepetitionPenalty float64         `json:"repetition_penalty"`
	N                 *int            `json:"n"`
	Stream            bool            `json:"stream"`
	StreamOptions     *streamOptions  `json:"stream_options"`
	Stop              strings1        `json:"stop"`
	Seed              *int64          `json:"seed"`
	PresencePenalty   float64         `json:"presence_penalty"`
	FrequencyPenalty  float64         `json:"frequency_penalty"`
	LogitBias         json.RawMessage `json:"logit_bias"`
	User              string          `json:"user"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// completionRequest is POST /v1/completions.
type completionRequest struct {
	sampling
	Prompt   prompts         `json:"prompt"`
	Logprobs *int            `json:"logprobs"`
	Echo     bool            `json:"echo"`
	BestOf   *int            `json:"best_of"`
	Suffix   json.RawMessage `json:"suffix"`
}

// chatRequest is POST /v1/chat/completions.
type chatRequest struct {
	sampling
	Messages            []message       `json:"messages"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Logprobs            bool            `json:"logprobs"`
	TopLogprobs         *int            `json:"top_logprobs"`
	ResponseFormat      *responseFormat `json:"response_format"`
	Tools               json.RawMessage `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
}

type responseFormat struct {
	Type string `json:"type"`
}

// message is a chat message; content is a string or text parts.
type message struct {
	Role    string      `json:"role"`
	Content textContent `json:"content"`
	Name    string      `json:"name"`
}

// embeddingRequest is POST /v1/embeddings.
type embeddingRequest struct {
	Model          string     `json:"model"`
	Input          embedInput `json:"input"`
	EncodingFormat string     `json:"encoding_format"`
	Dimensions     *int       `json:"dimensions"`
	User           string     `json:"user"`
}

// strings1 is a string or an array of strings (OpenAI's stop).
type strings1 []string

func (s *strings1) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = strings1{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return invalid("stop", "field stop: want a string or an array of strings")
	}
	*s = many
	return nil
}

// prompts is OpenAI's prompt or input: a string, an array of strings, an
// array of token ids, or an array of arrays of token ids.
type prompts struct {
	Texts []string
	IDs   [][]int
}

func (p *prompts) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		p.Texts = []string{one}
		return nil
	}
	var texts []string
	if json.Unmarshal(b, &texts) == nil {
		p.Texts = texts
		return nil
	}
	var ids []int
	if json.Unmarshal(b, &ids) == nil {
		p.IDs = [][]int{ids}
		return nil
	}
	var idss [][]int
	if json.Unmarshal(b, &idss) == nil {
		p.IDs = idss
		return nil
	}
	return invalid("prompt", "field prompt: want a string, an array of strings, or an array of token ids")
}

// embedInput is the embeddings' input: what prompts reads.
type embedInput struct{ prompts }

func (in *embedInput) UnmarshalJSON(b []byte) error {
	if err := in.prompts.UnmarshalJSON(b); err != nil {
		return invalid("input", "field input: want a string, an array of strings, or an array of token ids")
	}
	return nil
}

// len is the number of prompts.
func (p prompts) len() int { return len(p.Texts) + len(p.IDs) }

// textContent is a chat message's content: a string, or an array of parts
// of which moxing reads the text ones.
type textContent string

func (c *textContent) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*c = textContent(s)
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return invalid("messages", "field messages.content: want a string or an array of content parts")
	}
	var all strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return unsupported("messages", "field messages.content: a part of type %q; this model reads text parts only", p.Type)
		}
		all.WriteString(p.Text)
	}
	*c = textContent(all.String())
	return nil
}

// apiError is an error the client gets as OpenAI's error body, with its
// HTTP status.
type apiError struct {
	Status  int
	Message string
	Type    string // invalid_request_error, not_found_error, rate_limit_error, server_error, …
	Param   string // the request field at fault, if any
	Code    string

	retryAfter time.Duration // for a 429 or 503: when to try again (0: a second)
}

// errorStatus is the HTTP status err is answered with.
func errorStatus(err error) int {
	var e *apiError
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}

func (e *apiError) Error() string { return e.Message }

// invalid is a 400 about param.
func invalid(param, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...), Type: "invalid_request_error", Param: param}
}

// unsupported is a 422: OpenAI has the setting, moxing does not implement it.
func unsupported(param, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusUnprocessableEntity, Message: fmt.Sprintf(format, args...), Type: "invalid_request_error", Param: param, Code: "unsupported"}
}

// writeError writes err as OpenAI's error body: an *apiError with its
// status, anything else as a 500 that does not leak its text.
func writeError(w http.ResponseWriter, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{Status: http.StatusInternalServerError, Message: "internal error", Type: "server_error"}
	}
	body := map[string]any{"message": e.Message, "type": e.Type, "param": nil, "code": nil}
	if e.Param != "" {
		body["param"] = e.Param
	}
	if e.Code != "" {
		body["code"] = e.Code
	}
	w.Header().Set("Content-Type", "application/json")
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter(e.retryAfter))
	}
	w.WriteHeader(e.Status)
	jsonEncoder(w).Encode(map[string]any{"error": body})
}

// decode reads the request body into v strictly: at most limit bytes
// (413 beyond), valid UTF-8, one JSON object with no unknown fields and no
// value of the wrong type; errors name the field.
func decode(r *http.Request, limit int64, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return &apiError{Status: http.StatusUnsupportedMediaType, Message: fmt.Sprintf("Content-Type %q: send application/json", ct), Type: "invalid_request_error"}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return invalid("", "reading the request body: %v", err)
	}
	if int64(len(raw)) > limit {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body over %d bytes", limit), Type: "invalid_request_error"}
	}
	if !utf8.Valid(raw) {
		return invalid("", "the request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return invalid("", "the request body holds more than one JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a 400 naming the field.
func jsonError(err error) *apiError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &te):
		field := strings.TrimPrefix(te.Field, "sampling.") // the embedded struct's name is not a JSON key
		return invalid(field, "field %s: want %s, got %s", field, jsonType(te.Type.Kind().String()), te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("", "the request body is not valid JSON: it ends too early")
	case errors.As(err, &se):
		return invalid("", "the request body is not valid JSON: %v (at byte %d)", se, se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(field, "unknown field %q", field)
	case errors.Is(err, io.EOF):
		return invalid("", "the request body is empty: send a JSON object")
	}
	return invalid("", "the request body: %v", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonType names a Go kind as JSON does.
func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "an integer"
	case strings.HasPrefix(kind, "float"):
		return "a number"
	case kind == "string":
		return "a string"
	case kind == "bool":
		return "a boolean"
	case kind == "slice":
		return "an array"
	}
	return "an object"
}

// finite reports whether x is a finite number (JSON has no NaN, but a
// decoded 1e400 is +Inf).
func finite(x float64) bool { return !math.IsInf(x, 0) && !math.IsNaN(x) }

// jsonEncoder is a JSON encoder that leaves <, > and & as they are, as
// OpenAI's responses do.
func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}
