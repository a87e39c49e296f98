def mesu_pmnist_config(q, s):
    raise NotImplementedError


def mesu_pmnist_steps(c):
    raise NotImplementedError


def mesu_pmnist(ctx, c, r):
    raise NotImplementedError
