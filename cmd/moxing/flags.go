package main

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/moxing/moxing/recipe"
	"github.com/spf13/pflag"
)

// bindFlags registers a flag for each field of the struct *opts that has a
// flag tag, with its default (recipe.Defaults sets the field to its def
// tag first): the flag's name, its help (`help`), a one-letter shorthand
// (`short`) and other names it answers to (`alias`, comma-separated:
// llama.cpp's --temp for --temperature). An options struct is thus the one
// place that names a setting's flag, its config.json key (the json tag),
// its default, its help and its range (which recipe.Check enforces; see
// package recipe). Fields of other types than string, bool, int, uint64
// and float64 are a programming error.
func bindFlags(fs *pflag.FlagSet, opts any) {
	recipe.Defaults(opts)
	v := reflect.ValueOf(opts).Elem()
	aliases := map[string]string{}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name := f.Tag.Get("flag")
		if name == "" {
			continue
		}
		help, short := f.Tag.Get("help"), f.Tag.Get("short")
		if a := f.Tag.Get("alias"); a != "" {
			for _, alias := range strings.Split(a, ",") {
				aliases[alias] = name
			}
			help += " (also --" + strings.ReplaceAll(a, ",", ", --") + ")"
		}
		switch p := v.Field(i).Addr().Interface().(type) {
		case *string:
			fs.StringVarP(p, name, short, *p, help)
		case *bool:
			fs.BoolVarP(p, name, short, *p, help)
		case *int:
			fs.IntVarP(p, name, short, *p, help)
		case *uint64:
			fs.Uint64VarP(p, name, short, *p, help)
		case *float64:
			fs.Float64VarP(p, name, short, *p, help)
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
