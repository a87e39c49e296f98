def ablation_config(q, s):
    raise NotImplementedError


def ablation_steps(c):
    raise NotImplementedError


def ablation(ctx, c, r):
    raise NotImplementedError
