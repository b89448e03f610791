package tokenizer_test

import (
	"fmt"

	"github.com/moxing/moxing/tokenizer"
)

func ExampleChar() {
	tok, err := tokenizer.NewChar("hello world")
	if err != nil {
		panic(err)
	}
	ids, _ := tok.Encode("hello")
	text, _ := tok.Decode(ids)
	fmt.Println(tok.VocabSize(), ids, text)
	// Output: 9 [3 2 4 4 5] hello
}

func ExampleGPT2() {
	tok, err := tokenizer.GPT2()
	if err != nil {
		panic(err)
	}
	ids, _ := tok.EncodeSpecial("Hello world<|endoftext|>")
	fmt.Println(tok.VocabSize(), ids)
	// Output: 50257 [15496 995 50256]
}
