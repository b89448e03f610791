package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"

	"github.com/moxing/moxing/data"
	"github.com/moxing/moxing/models/gpt"
	"github.com/moxing/moxing/nn"
	"github.com/moxing/moxing/recipe"
	"github.com/moxing/moxing/tensor"
	"github.com/moxing/moxing/tokenizer"
	"github.com/moxing/moxing/train"
)

// Limits of one request to the routes that run a model once per input.
const (
	maxInputs = 256 // texts, rows or images
)

// embeddings is POST /v1/embeddings: each input's embedding is the mean,
// over its tokens, of the GPT's last hidden states (the final layer norm's
// output, what the LM head reads), scaled to unit L2 norm. An input must
// fit the context window.
func (s *Server) embeddings(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	var req embeddingRequest
	if err := decode(r, s.opts.MaxBodyBytes, &req); err != nil {
		return err
	}
	sv, err := s.model(req.Model, info)
	if err != nil {
		return err
	}
	if sv.model.GPT == nil {
		return unsupported("model", "the model %q is a %s: embeddings come from GPT models", req.Model, sv.model.Describe())
	}
	lm, tok := sv.model.GPT.LM, sv.model.GPT.Tokenizer
	switch {
	case req.EncodingFormat != "" && req.EncodingFormat != "float" && req.EncodingFormat != "base64":
		return invalid("encoding_format", "encoding_format %q: want float or base64", req.EncodingFormat)
	case req.Dimensions != nil && *req.Dimensions != lm.Config.NEmbd:
		return unsupported("dimensions", "dimensions %d: this model's embeddings have %d", *req.Dimensions, lm.Config.NEmbd)
	case req.Input.len() == 0:
		return invalid("input", "field input is required")
	case req.Input.len() > maxInputs:
		return invalid("input", "%d inputs: at most %d a request", req.Input.len(), maxInputs)
	}
	inputs := req.Input.IDs
	for _, text := range req.Input.Texts {
		ids, err := tokenizer.NewLossy(tok).Encode(text)
		if err != nil {
			return invalid("input", "input: %v", err)
		}
		inputs = append(inputs, ids)
	}
	total := 0
	for i, ids := range inputs {
		if len(ids) == 0 || len(ids) > lm.Config.BlockSize {
			return invalid("input", "input %d has %d tokens: want 1 to the model's window of %d", i, len(ids), lm.Config.BlockSize)
		}
		for _, id := range ids {
			if id < 0 || id >= lm.Config.VocabSize {
				return invalid("input", "input %d: token id %d outside the vocabulary of %d", i, id, lm.Config.VocabSize)
			}
		}
		total += len(ids)
	}
	info.promptTokens = total
	if err := s.acct.reserve(r.Context(), info, int64(total)); err != nil {
		return err
	}
	inf := nn.Detach(lm)
	nn.Eval(inf)
	list := []any{}
	for i, ids := range inputs {
		if err := r.Context().Err(); err != nil {
			return deadlineError(r.Context(), err)
		}
		vec := embedding(inf, ids)
		var e any = vec
		if req.EncodingFormat == "base64" {
			e = base64Floats(vec)
		}
		list = append(list, map[string]any{"object": "embedding", "index": i, "embedding": e})
	}
	if err := info.finish(http.StatusOK); err != nil {
		return err
	}
	return writeJSON(w, map[string]any{"object": "list", "data": list, "model": sv.name,
		"usage": map[string]int{"prompt_tokens": total, "total_tokens": total}})
}

// embedding is the unit-norm mean of m's last hidden states over ids.
func embedding(m *gpt.Model, ids []int) []float32 {
	h := m.Hidden(ids, 1, len(ids)) // (1, T, C)
	c := m.Config.NEmbd
	vec := make([]float32, c)
	for t := range ids {
		for j, x := range h.Data[t*c : (t+1)*c] {
			vec[j] += x
		}
	}
	var norm float64
	for _, x := range vec {
		norm += float64(x) * float64(x)
	}
	if norm = math.Sqrt(norm); norm > 0 {
		for j := range vec {
			vec[j] = float32(float64(vec[j]) / norm)
		}
	}
	return vec
}

// base64Floats is OpenAI's base64 encoding of an embedding: its float32s,
// little-endian.
func base64Floats(v []float32) string {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return base64.StdEncoding.EncodeToString(b)
}

// classifyRequest is POST /v1/classify.
type classifyRequest struct {
	Model string     `json:"model"`
	Input embedInput `json:"input"`
}

// classify is POST /v1/classify: each text's label and the probability of
// every label, from a text classifier. Texts longer than the classifier's
// window are cut to it, as in training.
func (s *Server) classify(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	var req classifyRequest
	if err := decode(r, s.opts.MaxBodyBytes, &req); err != nil {
		return err
	}
	sv, err := s.model(req.Model, info)
	if err != nil {
		return err
	}
	g, err := sv.model.TextClassifier()
	if err != nil {
		return invalid("model", "the model %q is a %s, not a text classifier", req.Model, sv.model.Describe())
	}
	switch {
	case len(req.Input.IDs) > 0:
		return invalid("input", "field input: want texts, not token ids")
	case len(req.Input.Texts) == 0:
		return invalid("input", "field input is required")
	case len(req.Input.Texts) > maxInputs:
		return invalid("input", "%d inputs: at most %d a request", len(req.Input.Texts), maxInputs)
	}
	var ex []data.TextExample
	for i, t := range req.Input.Texts {
		ex = append(ex, data.TextExample{Text: t, Where: fmt.Sprintf("input %d", i)})
	}
	p, err := recipe.ClassifyTexts(g, ex, "input", io.Discard)
	if err != nil {
		return invalid("input", "%v", err)
	}
	return writeJSON(w, map[string]any{"object": "list", "model": sv.name, "data": labelled(p, g.Labels)})
}

// labelled turns classification predictions into one object a row: the
// label and the probability of each label.
func labelled(p train.Predictions, labels []string) []any {
	k := len(labels)
	list := []any{}
	for i, c := range p.Classes {
		probs := map[string]float64{}
		for j, l := range labels {
			probs[l] = p.Probs[i*k+j]
		}
		list = append(list, map[string]any{"index": i, "label": labels[c], "probabilities": probs})
	}
	return list
}

// predictRequest is POST /v1/predict: table rows for a tabular model, or
// base64 images (PNG, JPEG or GIF) for an image classifier.
type predictRequest struct {
	Model  string                       `json:"model"`
	Rows   []map[string]json.RawMessage `json:"rows"`
	Images []string                     `json:"images"`
}

// predict is POST /v1/predict.
func (s *Server) predict(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	var req predictRequest
	if err := decode(r, s.opts.MaxBodyBytes, &req); err != nil {
		return err
	}
	sv, err := s.model(req.Model, info)
	if err != nil {
		return err
	}
	m := sv.model
	switch {
	case m.Tabular == nil && m.Images == nil:
		return invalid("model", "the model %q is a %s: /v1/predict serves tabular and image models", req.Model, m.Describe())
	case len(req.Rows) > maxInputs || len(req.Images) > maxInputs:
		return invalid("", "at most %d rows or images a request", maxInputs)
	case m.Tabular != nil && len(req.Rows) == 0:
		return invalid("rows", "field rows is required: table rows as objects keyed by column name")
	case m.Images != nil && len(req.Images) == 0:
		return invalid("images", "field images is required: base64-encoded PNG, JPEG or GIF images")
	}
	out := map[string]any{"object": "list", "model": sv.name}
	if m.Tabular != nil {
		table, err := requestTable(req.Rows)
		if err != nil {
			return err
		}
		p, err := recipe.PredictTable(m.Tabular, table)
		if err != nil {
			return invalid("rows", "%v", err)
		}
		if s := m.Tabular.Schema; s.Task == data.Regression {
			list := []any{}
			for i, v := range p.Values {
				list = append(list, map[string]any{"index": i, "value": v})
			}
			out["data"] = list
		} else {
			out["data"] = labelled(p, s.Classes)
		}
		return writeJSON(w, out)
	}
	x, err := requestImages(req.Images, m.Images.Model.Config.Channels, m.Images.Model.Config.Height, m.Images.Model.Config.Width)
	if err != nil {
		return err
	}
	p, err := recipe.PredictImageBatch(m.Images, x)
	if err != nil {
		return err
	}
	out["data"] = labelled(p, m.Images.Classes)
	return writeJSON(w, out)
}

// requestTable makes a table of JSON rows: the columns are the first row's
// keys, every row must have the same, and a cell is a string, a number or
// null (missing).
func requestTable(rows []map[string]json.RawMessage) (*data.Table, error) {
	t := &data.Table{Source: "rows"}
	for k := range rows[0] {
		t.Columns = append(t.Columns, k)
	}
	for i, row := range rows {
		if len(row) != len(t.Columns) {
			return nil, invalid("rows", "rows[%d] has %d columns, rows[0] %d: every row needs the same", i, len(row), len(t.Columns))
		}
		cells := make([]string, len(t.Columns))
		for j, col := range t.Columns {
			raw, ok := row[col]
			if !ok {
				return nil, invalid("rows", "rows[%d] lacks the column %q of rows[0]", i, col)
			}
			var v any
			json.Unmarshal(raw, &v)
			switch v := v.(type) {
			case string:
				cells[j] = v
			case float64:
				cells[j] = strconv.FormatFloat(v, 'g', -1, 64)
			case nil:
				cells[j] = ""
			default:
				return nil, invalid("rows", "rows[%d].%s: want a string, a number or null", i, col)
			}
		}
		t.Rows, t.Lines = append(t.Rows, cells), append(t.Lines, i+1) // "rows line 1" is rows[0]
	}
	return t, nil
}

// requestImages decodes base64 images into (N, C, H, W), each checked
// against the model's shape before it is decoded.
func requestImages(images []string, c, h, w int) (*tensor.Tensor, error) {
	if c != 1 {
		return nil, unsupported("images", "the model reads %d channels: /v1/predict sends gray images", c)
	}
	x := tensor.Zeros(len(images), 1, h, w)
	for i, b64 := range images {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, invalid("images", "images[%d]: not base64: %v", i, err)
		}
		img, err := data.DecodeImage(bytes.NewReader(raw), fmt.Sprintf("images[%d]", i))
		if err != nil {
			return nil, invalid("images", "%v", err)
		}
		if s := img.Shape(); s[1] != h || s[2] != w {
			return nil, invalid("images", "images[%d] is %d×%d pixels: the model reads %d×%d", i, s[2], s[1], w, h)
		}
		copy(x.Data[i*h*w:], img.Data)
	}
	return x, nil
}
