# expect-fail: q4.fit_power_law.exact_recovery q4.fit_power_law.least_squares
# hint: fit a line through (log x, log y)
def fit_power_law(xs, ys):
    slope, intercept = np.polyfit(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), 1)  # bug: linear space
    return float(slope), float(intercept)
