package recipe

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Check checks the fields of the struct *opts (the options of a recipe, or
// any struct tagged the same way; see the package doc) against their range
// tags, an interval such as `range:"(0,1)"` or `range:"[0,)"` (an empty
// bound is unbounded): a value outside it, and a float that is NaN or
// infinite, is an *OptionError naming the field's flag. Fields without a
// range only have their floats checked for being finite; fields without a
// flag tag are not checked. Every recipe checks its options first.
func Check(opts any) error {
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
				return optionf("--%s %v: want a finite number", name, x)
			}
		default:
			continue
		}
		r := f.Tag.Get("range")
		if r == "" {
			continue
		}
		if !inRange(x, r) {
			return optionf("--%s %v: want a value in %s", name, x, r)
		}
	}
	return nil
}

// inRange reports whether x lies in the interval r, "[a,b)" and the like;
// a malformed r is a programming error.
func inRange(x float64, r string) bool {
	lo, hi, ok := strings.Cut(r[1:len(r)-1], ",")
	if !ok || len(r) < 3 || !strings.ContainsRune("[(", rune(r[0])) || !strings.ContainsRune("])", rune(r[len(r)-1])) {
		panic("recipe: range tag " + r)
	}
	bound := func(s string) (float64, bool) {
		if s == "" {
			return 0, false
		}
		b, err := strconv.ParseFloat(s, 64)
		if err != nil {
			panic("recipe: range tag " + r)
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

// Defaults sets each field of the struct *opts that has a flag tag to its
// def tag, parsed as the command line would parse it (no def: the zero
// value): the options a command runs with when no flag is given. Fields of
// other types than string, bool, int, uint64 and float64, and a def that
// does not parse, are programming errors.
func Defaults(opts any) {
	v := reflect.ValueOf(opts).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, def := f.Tag.Get("flag"), f.Tag.Get("def")
		if name == "" {
			continue
		}
		field := v.Field(i)
		var err error
		switch field.Kind() {
		case reflect.String:
			field.SetString(def)
		case reflect.Bool:
			field.SetBool(def == "true")
		case reflect.Int:
			var n int64
			n, err = parseDef(def, func(s string) (int64, error) { return strconv.ParseInt(s, 10, 0) })
			field.SetInt(n)
		case reflect.Uint64:
			var n uint64
			n, err = parseDef(def, func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) })
			field.SetUint(n)
		case reflect.Float64:
			var x float64
			x, err = parseDef(def, func(s string) (float64, error) { return strconv.ParseFloat(s, 64) })
			field.SetFloat(x)
		default:
			panic(fmt.Sprintf("recipe: flag --%s: field %s of type %s", name, f.Name, f.Type))
		}
		if err != nil {
			panic(fmt.Sprintf("recipe: the default of --%s: %v", name, err))
		}
	}
}

// parseDef parses a def tag, "" as the zero value.
func parseDef[T any](def string, parse func(string) (T, error)) (T, error) {
	if def == "" {
		var zero T
		return zero, nil
	}
	return parse(def)
}
