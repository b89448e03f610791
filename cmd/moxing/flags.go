package main

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/spf13/pflag"
)

// bindFlags registers a flag for each field of the struct *opts that has a
// flag tag: the flag's name, its default (`def`, parsed as the command line
// would be; none is the zero value) and its help (`help`). An options
// struct is thus the one place that names a setting's flag, its config.json
// key (the json tag), its default and its help. Fields of other types than
// string, bool, int, uint64 and float64 are a programming error.
func bindFlags(fs *pflag.FlagSet, opts any) {
	v := reflect.ValueOf(opts).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name := f.Tag.Get("flag")
		if name == "" {
			continue
		}
		def, help := f.Tag.Get("def"), f.Tag.Get("help")
		switch p := v.Field(i).Addr().Interface().(type) {
		case *string:
			fs.StringVar(p, name, def, help)
		case *bool:
			fs.BoolVar(p, name, def == "true", help)
		case *int:
			fs.IntVar(p, name, must(strconv.Atoi, name, def), help)
		case *uint64:
			fs.Uint64Var(p, name, must(func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }, name, def), help)
		case *float64:
			fs.Float64Var(p, name, must(func(s string) (float64, error) { return strconv.ParseFloat(s, 64) }, name, def), help)
		default:
			panic(fmt.Sprintf("moxing: flag --%s: field %s of type %s", name, f.Name, f.Type))
		}
	}
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
