package main

import (
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// bindFlags registers a flag for each field of the struct *opts that has a
// flag tag: the flag's name, its default (`def`, parsed as the command line
// would be; none is the zero value), its help (`help`), a one-letter
// shorthand (`short`) and other names it answers to (`alias`, comma-separated:
// llama.cpp's --temp for --temperature). An options struct is thus the one
// place that names a setting's flag, its config.json key (the json tag),
// its default and its help. Fields of other types than string, bool, int,
// uint64 and float64 are a programming error.
func bindFlags(fs *pflag.FlagSet, opts any) {
	v := reflect.ValueOf(opts).Elem()
	aliases := map[string]string{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name := f.Tag.Get("flag")
		if name == "" {
			continue
		}
		def, help, short := f.Tag.Get("def"), f.Tag.Get("help"), f.Tag.Get("short")
		if a := f.Tag.Get("alias"); a != "" {
			for _, alias := range strings.Split(a, ",") {
				aliases[alias] = name
			}
			help += " (also --" + strings.ReplaceAll(a, ",", ", --") + ")"
		}
		switch p := v.Field(i).Addr().Interface().(type) {
		case *string:
			fs.StringVarP(p, name, short, def, help)
		case *bool:
			fs.BoolVarP(p, name, short, def == "true", help)
		case *int:
			fs.IntVarP(p, name, short, must(strconv.Atoi, name, def), help)
		case *uint64:
			fs.Uint64VarP(p, name, short, must(func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }, name, def), help)
		case *float64:
			fs.Float64VarP(p, name, short, must(func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }, name, def), help)
		default:
			panic(fmt.Sprintf("moxing: flag --%s: field %s of type %s", name, f.Name, f.Type))
		}
	}
	if len(aliases) > 0 {
		fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
			if to, ok := aliases[name]; ok {
				return pflag.NormalizedName(to)
			}
			return pflag.NormalizedName(name)
		})
	}
}

// readArg returns the flag's value, or all of stdin when it is "-".
func readArg(value string, stdin io.Reader) (string, error) {
	if value != "-" {
		return value, nil
	}
	b, err := io.ReadAll(stdin)
	if err != nil {
		return "", fmt.Errorf("reading standard input: %w", err)
	}
	return string(b), nil
}

// must parses a flag's default, "" as the zero value.
func must[T any](parse func(string) (T, error), name, def string) T {
	var zero T
	if def == "" {
		return zero
	}
	v, err := parse(def)
	if err != nil {
		panic(fmt.Sprintf("moxing: the default of --%s: %v", name, err))
	}
	return v
}

// checkFlags checks the fields of the struct *opts against their range
// tags, an interval such as `range:"(0,1)"`, `range:"[0,)"` (an empty bound
// is unbounded): a value outside it, and a float that is NaN or infinite,
// is a usage error naming the flag. Fields without a range only have their
// floats checked for being finite.
func checkFlags(opts any) error {
	v := reflect.ValueOf(opts).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name := f.Tag.Get("flag")
		if name == "" {
			continue
		}
		var x float64
		switch p := v.Field(i).Addr().Interface().(type) {
		case *int:
			x = float64(*p)
		case *uint64:
			x = float64(*p)
		case *float64:
			x = *p
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return usagef("--%s %v: want a finite number", name, x)
			}
		default:
			continue
		}
		r := f.Tag.Get("range")
		if r == "" {
			continue
		}
		if !inRange(x, r) {
			return usagef("--%s %v: want a value in %s", name, x, r)
		}
	}
	return nil
}

// inRange reports whether x lies in the interval r, "[a,b)" and the like;
// a malformed r is a programming error.
func inRange(x float64, r string) bool {
	lo, hi, ok := strings.Cut(r[1:len(r)-1], ",")
	if !ok || len(r) < 3 || !strings.ContainsRune("[(", rune(r[0])) || !strings.ContainsRune("])", rune(r[len(r)-1])) {
		panic("moxing: range tag " + r)
	}
	bound := func(s string) (float64, bool) {
		if s == "" {
			return 0, false
		}
		b, err := strconv.ParseFloat(s, 64)
		if err != nil {
			panic("moxing: range tag " + r)
		}
		return b, true
	}
	if b, ok := bound(lo); ok && (x < b || (x == b && r[0] == '(')) {
		return false
	}
	if b, ok := bound(hi); ok && (x > b || (x == b && r[len(r)-1] == ')')) {
		return false
	}
	return true
}
