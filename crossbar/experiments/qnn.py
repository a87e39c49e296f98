def qnn_multilevel_config(q, s):
    raise NotImplementedError


def qnn_multilevel_steps(c):
    raise NotImplementedError


def qnn_multilevel(ctx, c, r):
    raise NotImplementedError
