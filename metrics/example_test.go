package metrics_test

import (
	"fmt"

	"github.com/moxing/moxing/metrics"
)

func ExampleConfusion() {
	target := []int{0, 0, 1, 1, 1, 2, 2, 2}
	pred := []int{0, 1, 1, 1, 2, 2, 2, 0}
	c := metrics.NewConfusion(pred, target, 3)
	fmt.Print(c.Format([]string{"cat", "dog", "bird"}))
	fmt.Printf("accuracy %.3f\n", c.Accuracy())
	fmt.Printf("dog: precision %.3f recall %.3f F1 %.3f\n", c.Precision(1), c.Recall(1), c.F1(1))
	fmt.Printf("macro F1 %.3f\n", c.MacroF1())
	// Output:
	// true\pred  cat  dog bird
	//       cat    1    1    0
	//       dog    0    2    1
	//      bird    1    0    2
	// accuracy 0.625
	// dog: precision 0.667 recall 0.667 F1 0.667
	// macro F1 0.611
}
