# JupyterHub for one server (plain JupyterHub under systemd; The Littlest JupyterHub sets up the same
# pieces). Copy to /etc/jupyterhub/jupyterhub_config.py and see deploy/README.md for the steps.
#
# Each student gets their own Jupyter server as their own Linux user (PAM log-in), started by
# systemdspawner, which enforces the memory and CPU limits below. Sizes come from docs/teaching.md's
# table (measured by scripts/measure_lessons.py): a lesson's kernel peaks under MEM_LIMIT, and one
# core per student keeps every lesson within a class period.
c = get_config()  # noqa: F821 (provided by JupyterHub)

COURSE = "/opt/circuits-course"          # a clone of the course, set up with `make setup`
MEM_LIMIT = "5G"                         # per student: the largest lesson's kernel peak plus headroom
CPU_LIMIT = 1.0                          # cores per student (a hard cap)
CPU_GUARANTEE = 0.5                      # what the server should keep free per student when sizing it

c.JupyterHub.bind_url = "http://:8000"   # put a TLS-terminating proxy (nginx, Caddy) in front for a class
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set()    # fill in the class list, or use allow_all with a closed network
c.Authenticator.admin_users = {"teacher"}

c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
c.SystemdSpawner.mem_limit = MEM_LIMIT
c.SystemdSpawner.cpu_limit = CPU_LIMIT
c.SystemdSpawner.isolate_tmp = True
c.SystemdSpawner.isolate_devices = True
c.Spawner.cmd = [f"{COURSE}/.venv/bin/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab/tree/lessons"
c.Spawner.environment = {
    "CIRCUITS_DATA_DIR": f"{COURSE}/data",   # one shared copy of weights, data sets and caches
    "CIRCUITS_OFFLINE": "1",                 # students never wait on a download during class
    "OMP_NUM_THREADS": str(int(CPU_LIMIT)),  # as many math threads as the student has cores
    "OMP_WAIT_POLICY": "PASSIVE",            # idle threads sleep instead of spinning on a shared machine
}


def give_student_edition(spawner) -> None:
    """On a student's first log-in, copy the student edition (`make student`) into ~/lessons."""
    import pwd
    import shutil
    from pathlib import Path

    user = pwd.getpwnam(spawner.user.name)
    lessons = Path(user.pw_dir) / "lessons"
    if lessons.exists():
        return
    shutil.copytree(f"{COURSE}/student", lessons)
    for path in [lessons, *lessons.iterdir()]:
        shutil.chown(path, user.pw_uid, user.pw_gid)


c.Spawner.pre_spawn_hook = give_student_edition

# nbgrader's exchange, so the teacher can release and collect lessons from JupyterLab's Assignments tab.
c.Exchange.root = "/srv/nbgrader/exchange"
