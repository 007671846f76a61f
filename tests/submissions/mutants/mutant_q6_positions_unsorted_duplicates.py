# expect-fail: q6.loss_output_positions.drawn_positions q6.loss_output_positions.edge_cases
# hint: sorted without duplicates (the positions themselves are right)
def loss_output_positions(target_input_positions):
    return [int(p) - 1 for p in target_input_positions]
