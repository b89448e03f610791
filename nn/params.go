// Package nn builds neural networks from tensor ops: layers (Linear,
// Embedding, LayerNorm, Dropout, activations, Sequential, MLP),
// initialisers, losses, and the parameter walker that names every parameter
// for optimizers and checkpoints.
//
// A layer is a plain struct whose exported *tensor.Tensor fields are its
// parameters. Params finds them by reflection, so a model needs no
// registration code: its parameter names follow its field names (or `nn`
// struct tags), giving GPT-2 style dotted paths such as h.0.attn.c_attn.weight.
package nn

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/moxing/moxing/tensor"
)

// Param is a parameter tensor with its stable dotted name.
type Param struct {
	Name string
	*tensor.Tensor
}

var tensorType = reflect.TypeFor[*tensor.Tensor]()

// Params returns every parameter of m (a pointer to a layer or model struct)
// in a stable order, depth first in field order, each with a dotted name:
//
//   - an exported *tensor.Tensor field is a parameter, named after the field
//     with its first letter lowered (Weight → weight);
//   - an exported struct, pointer or interface field is walked into, its
//     name becoming a prefix (Attn → attn.);
//   - slice and array elements are named by index (h.0., h.1.);
//   - the struct tag `nn:"name"` renames a field, `nn:"-"` skips it (for
//     constant buffers), and `nn:",inline"` walks into it without a prefix;
//   - a pointer to a ParamRenamer names what is below it itself.
//
// A tensor reachable under two names (tied weights) is listed once, under the
// first. Frozen tensors (no RequireGrad) are listed too: they are still part
// of the model's state.
func Params(m any) []Param {
	var ps []Param
	seen := map[*tensor.Tensor]bool{}
	walk(reflect.ValueOf(m), "", map[uintptr]bool{}, func(name string, v reflect.Value) {
		if v.Type() != tensorType || v.IsNil() {
			return
		}
		t := v.Interface().(*tensor.Tensor)
		if !seen[t] {
			seen[t] = true
			ps = append(ps, Param{Name: name, Tensor: t})
		}
	})
	return ps
}

// UseArena makes the ops of m's forward and backward passes take their
// storage from a (nil: the heap), so that a training loop that calls
// a.Reset after each Backward allocates nothing step after step; see
// tensor.Arena for the contract. The parameters and their gradients stay
// where they are, and a copy made by Detach does not use the arena.
func UseArena(m any, a *tensor.Arena) {
	for _, p := range Params(m) {
		p.UseArena(a)
	}
}

// Train puts m in training mode: every Dropout draws its masks from rng
// (which must not be used concurrently elsewhere), and every BatchNorm2d
// normalises with batch statistics and updates its running ones.
func Train(m any, rng *rand.Rand) { setMode(m, rng) }

// Eval puts m in evaluation mode: every Dropout passes its input through
// unchanged and every BatchNorm2d uses its running statistics.
func Eval(m any) { setMode(m, nil) }

func setMode(m any, rng *rand.Rand) {
	walk(reflect.ValueOf(m), "", map[uintptr]bool{}, func(_ string, v reflect.Value) {
		if !v.CanAddr() {
			return
		}
		switch l := v.Addr().Interface().(type) {
		case *Dropout:
			l.RNG = rng
		case *BatchNorm2d:
			l.Training = rng != nil
		}
	})
}

// ParamRenamer is implemented by layers whose parameters follow another
// naming convention than their Go fields, such as PyTorch's recurrent
// layers (weight_ih_l0, weight_hh_l1_reverse, …). Params asks
// RenameParam for the name of each path below the layer (e.g.
// "cells.3.weight_ih") and prefixes the answer with the layer's own name.
type ParamRenamer interface {
	RenameParam(path string) string
}

// walk calls visit on v and, depth first, on everything reachable from it
// through exported fields, slice and array elements, pointers and
// interfaces, with dotted names.
func walk(v reflect.Value, name string, visited map[uintptr]bool, visit func(string, reflect.Value)) {
	if !v.IsValid() {
		return
	}
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return
		}
		walk(v.Elem(), name, visited, visit)
		return
	}
	if v.CanInterface() {
		visit(name, v)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() || v.Type() == tensorType || visited[v.Pointer()] {
			return
		}
		visited[v.Pointer()] = true
		if r, ok := v.Interface().(ParamRenamer); ok {
			walk(v.Elem(), "", visited, func(sub string, x reflect.Value) { visit(join(name, r.RenameParam(sub)), x) })
			return
		}
		walk(v.Elem(), name, visited, visit)
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			fname, inline, skip := fieldName(f)
			if skip {
				continue
			}
			switch {
			case inline:
				walk(v.Field(i), name, visited, visit)
			default:
				walk(v.Field(i), join(name, fname), visited, visit)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walk(v.Index(i), join(name, strconv.Itoa(i)), visited, visit)
		}
	}
}

// fieldName reads the nn struct tag of f.
func fieldName(f reflect.StructField) (name string, inline, skip bool) {
	tag := f.Tag.Get("nn")
	if tag == "-" {
		return "", false, true
	}
	name, opt, _ := strings.Cut(tag, ",")
	if opt == "inline" {
		return "", true, false
	}
	if name == "" {
		r, size := utf8.DecodeRuneInString(f.Name)
		name = string(unicode.ToLower(r)) + f.Name[size:]
	}
	return name, false, false
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// NumParams returns the total number of elements in ps.
func NumParams(ps []Param) int {
	n := 0
	for _, p := range ps {
		n += p.Numel()
	}
	return n
}

// Detach returns a copy of model m for inference: every tensor (every
// exported *tensor.Tensor, anywhere in the structure Params walks) is
// replaced by a detached tensor sharing its storage, so the copy computes the same outputs, sees the original's later
// updates, and records no graph. Layer structs, slices and interfaces along
// the way are copied shallowly; the original is not modified. Tied weights
// stay tied. Unexported fields are shared as they are.
//
// This is moxing's no-grad mode: it is local to the copy, so one goroutine
// can evaluate while another trains. The copy is safe for concurrent use
// when its layers are (Dropout in training mode is not).
func Detach[M any](m M) M {
	v := reflect.ValueOf(&m).Elem()
	return detach(v, map[uintptr]reflect.Value{}).Interface().(M)
}

func detach(v reflect.Value, seen map[uintptr]reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		if c, ok := seen[v.Pointer()]; ok {
			return c
		}
		if v.Type() == tensorType {
			// Frozen tensors get their own header too: the original's
			// arena setting (see UseArena) must not reach the copy.
			c := reflect.ValueOf(v.Interface().(*tensor.Tensor).Detach())
			seen[v.Pointer()] = c
			return c
		}
		c := reflect.New(v.Type().Elem())
		seen[v.Pointer()] = c
		c.Elem().Set(detach(v.Elem(), seen))
		return c
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				c.Field(i).Set(detach(v.Field(i), seen))
			}
		}
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			c.Index(i).Set(detach(v.Index(i), seen))
		}
		return c
	case reflect.Array:
		c := reflect.New(v.Type()).Elem()
		for i := 0; i < v.Len(); i++ {
			c.Index(i).Set(detach(v.Index(i), seen))
		}
		return c
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type()).Elem()
		c.Set(detach(v.Elem(), seen))
		return c
	}
	return v
}
