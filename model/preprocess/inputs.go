package preprocess

// Inputs28 copies the network inputs of digits, as store.Sample.Input28
// keeps them.
func Inputs28(digits []Digit) [][]byte {
	out := make([][]byte, len(digits))
	for i := range digits {
		out[i] = append([]byte(nil), digits[i].Input[:]...)
	}
	return out
}
