"""A Lotka-Volterra predator-prey simulator written with ``ag.scan``.

    dx/dt = a x - b x y        (prey)
    dy/dt = c x y - d y        (predators)

Each time step is one iteration of a scan; the parameters ``theta = (a, b,
c, d)`` are inputs, so one built module simulates any of them, for a batch
of initial states at once.  Build it with
``python -m aotgraph compile examples/ode/spec.py -o build``; the module
``ode_lv`` then has

- ``euler(y0, theta, dt, n_steps)`` and ``rk4(y0, theta, dt, n_steps)``: the
  trajectories ``(n_steps, batch, 2)`` (the initial state not included) from
  float64 states ``y0`` of shape ``(batch, 2)``;
- ``prey_sensitivity(y0, theta, dt, n_steps)``: the mean final prey
  population after RK4 integration and its gradient with respect to
  ``theta`` (back-propagation through the scan).
"""

import aotgraph as ag
import aotgraph.tensor as at


def vector_field(y, theta):
    """d/dt of the (batch, 2) states ``y`` under parameters ``theta``."""
    prey, predators = y[:, 0], y[:, 1]
    a, b, c, d = theta[0], theta[1], theta[2], theta[3]
    return at.stack([a * prey - b * prey * predators, c * prey * predators - d * predators], axis=1)


def euler_step(y, theta, dt):
    return y + dt * vector_field(y, theta)


def rk4_step(y, theta, dt):
    k1 = vector_field(y, theta)
    k2 = vector_field(y + 0.5 * dt * k1, theta)
    k3 = vector_field(y + 0.5 * dt * k2, theta)
    k4 = vector_field(y + dt * k3, theta)
    return y + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


y0 = at.dmatrix("y0")  # (batch, 2): prey, predators
theta = at.dvector("theta")  # (4,): a, b, c, d
dt = at.dscalar("dt")
n_steps = at.lscalar("n_steps")


def integrate(step):
    trajectory, _ = ag.scan(step, outputs_info=y0, non_sequences=[theta, dt], n_steps=n_steps)
    return trajectory


rk4_path = integrate(rk4_step)
final_prey = rk4_path[-1, :, 0].mean()

mod = ag.Module("ode_lv")
mod.function("euler", [y0, theta, dt, n_steps], integrate(euler_step))
mod.function("rk4", [y0, theta, dt, n_steps], rk4_path)
mod.function("prey_sensitivity", [y0, theta, dt, n_steps], [final_prey, ag.grad(final_prey, theta)])
