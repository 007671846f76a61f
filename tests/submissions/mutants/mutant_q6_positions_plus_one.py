# expect-fail: q6.loss_output_positions.homework_layout q6.loss_output_positions.drawn_positions q6.loss_output_positions.edge_cases
# hint: shifted the wrong way
def loss_output_positions(target_input_positions):
    return sorted({int(p) + 1 for p in target_input_positions})
