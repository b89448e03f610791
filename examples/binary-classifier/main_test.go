package main

import "os"

// The classic example as a test: the loss falls, accuracy reaches 100%
// (run returns an error otherwise), and the probabilities separate the
// classes.
func Example() {
	if err := run(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// epoch    1  loss 0.6217  accuracy 60%
	// epoch  500  loss 0.4966  accuracy 60%
	// epoch 1000  loss 0.4107  accuracy 80%
	// epoch 1500  loss 0.3362  accuracy 80%
	// epoch 2000  loss 0.2730  accuracy 100%
	// epoch 2500  loss 0.2202  accuracy 100%
	// epoch 3000  loss 0.1844  accuracy 100%
	// x = 1  P(class 1) = 0.112
	// x = 2  P(class 1) = 0.399
	// x = 3  P(class 1) = 0.788
	// x = 4  P(class 1) = 0.954
	// x = 5  P(class 1) = 0.992
}
