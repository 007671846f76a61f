# full-marks: q6
# Equivalent correct forms: positions as a tuple, a range or numpy ints.
def loss_output_positions(target_input_positions):
    return tuple(np.unique(np.asarray(list(target_input_positions), dtype=np.int64) - 1))

ANSWERS["q6a"] = range(50, 72)
ANSWERS["q6b"] = "E*5"
ANSWERS["q6c"] = (np.bool_(True), True, False, np.bool_(False))
