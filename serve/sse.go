package serve

import (
	"bytes"
	"errors"
	"net/http"
)

// sse writes server-sent events as OpenAI streams them: one "data: JSON"
// event a chunk, and "data: [DONE]" at the end. An error after the stream
// has begun is sent as an event holding OpenAI's error object.
type sse struct {
	w       http.ResponseWriter
	flusher http.Flusher
	started bool
}

func newSSE(w http.ResponseWriter) *sse {
	f, _ := w.(http.Flusher)
	return &sse{w: w, flusher: f}
}

// send writes one event and flushes it to the client.
func (s *sse) send(v any) error {
	if !s.started {
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	var b bytes.Buffer
	b.WriteString("data: ")
	if err := jsonEncoder(&b).Encode(v); err != nil { // Encode ends the line
		return err
	}
	b.WriteString("\n")
	if _, err := s.w.Write(b.Bytes()); err != nil {
		return err
	}
	if s.flusher != nil {
		s.flusher.Flush()
	}
	return nil
}

// done ends the stream.
func (s *sse) done() error {
	if !s.started {
		return s.send(map[string]any{}) // never happens: a stream has chunks
	}
	_, err := s.w.Write([]byte("data: [DONE]\n\n"))
	if s.flusher != nil {
		s.flusher.Flush()
	}
	return err
}

// fail reports err: as the response when nothing was streamed yet, else
// as an error event (the status is already 200).
func (s *sse) fail(err error) error {
	if !s.started {
		return err
	}
	var e *apiError
	if !errors.As(err, &e) {
		e = &apiError{Message: "internal error", Type: "server_error"}
	}
	s.send(map[string]any{"error": map[string]any{"message": e.Message, "type": e.Type, "param": nil, "code": nil}})
	return nil
}
