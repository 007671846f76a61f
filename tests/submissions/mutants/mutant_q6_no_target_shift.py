# expect-fail: q6.loss_output_positions.homework_layout q6.loss_output_positions.drawn_positions q6.loss_output_positions.edge_cases
# hint: targets are the inputs shifted left by one
def loss_output_positions(target_input_positions):
    return sorted(set(int(p) for p in target_input_positions))
