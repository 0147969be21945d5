"""A new user's first session, with the `openstack` and `nova` command-line clients, unchanged.

Every command is what an OpenStack tutorial has a user type: images, flavors and networks are
looked up by name through Glance, Nova and Neutron, volumes made through Cinder, all found in
Keystone's catalog (clouds.yaml has no endpoint overrides). Each command and its result is printed.
"""
import json
import os
import subprocess
import time
import uuid

from common import CLOUD, Steps, cloud_region, expect, wait_for

steps = Steps('cli tour')
suffix = uuid.uuid4().hex[:6]
SERVER = f'tour-{suffix}'
VOLUME = f'tour-vol-{suffix}'
NOVA_SERVER = f'tour-nova-{suffix}'


def nova_login():
    """The nova CLI reads no clouds.yaml: a user gives it the same password login as OS_*
    variables (README, "Using OpenStack clients"), taken here from the clouds.yaml entry."""
    config = cloud_region(CLOUD)
    auth = config.auth
    env = {k: v for k, v in os.environ.items() if k != 'OS_CLOUD'}
    env.update({
        'OS_AUTH_URL': auth['auth_url'], 'OS_USERNAME': auth['username'], 'OS_PASSWORD': auth['password'],
        'OS_PROJECT_NAME': auth['project_name'],
        'OS_USER_DOMAIN_NAME': auth.get('user_domain_name') or 'Default',
        'OS_PROJECT_DOMAIN_NAME': auth.get('project_domain_name') or 'Default',
    })
    if config.region_name:
        env['OS_REGION_NAME'] = config.region_name
    return env


def cli(*args, parse=True):
    """Runs a command as the user would type it; prints it and what it answered."""
    command = list(args)
    if parse and command[0] == 'openstack':
        command += ['-f', 'json']
    started = time.monotonic()
    env = nova_login() if command[0] == 'nova' else os.environ
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
    shown = ' '.join(args)
    print(f'$ {shown}  ({time.monotonic() - started:.1f}s, exit {done.returncode})', flush=True)
    out = done.stdout.strip()
    if out:
        print('  ' + '\n  '.join(out.splitlines()[:12]), flush=True)
    if done.returncode != 0:
        raise AssertionError(f'{shown} failed: {done.stderr.strip()[-2000:]}')
    return json.loads(out) if parse and command[0] == 'openstack' and out else out


def image_list():
    images = cli('openstack', 'image', 'list')
    expect('cirros' in [i['Name'] for i in images], images)


def server_create():
    server = cli('openstack', 'server', 'create', '--image', 'cirros', '--flavor', 'm1.tiny',
                 '--network', 'private', '--wait', SERVER)
    expect(server['status'] == 'ACTIVE', server['status'])


def server_show_address():
    server = cli('openstack', 'server', 'show', SERVER)
    addresses = server['addresses']
    expect('private' in json.dumps(addresses) and '10.0.0.' in json.dumps(addresses), addresses)


def volume_create():
    cli('openstack', 'volume', 'create', '--size', '1', VOLUME)
    wait_for(lambda: cli('openstack', 'volume', 'show', VOLUME)['status'], lambda s: s == 'available', 'volume available')


def server_add_volume():
    cli('openstack', 'server', 'add', 'volume', SERVER, VOLUME, parse=False)
    volume = wait_for(lambda: cli('openstack', 'volume', 'show', VOLUME), lambda v: v['status'] == 'in-use', 'volume in-use')
    expect(json.dumps(volume['attachments']).count('server_id') == 1, volume['attachments'])


def server_remove_volume():
    cli('openstack', 'server', 'remove', 'volume', SERVER, VOLUME, parse=False)
    wait_for(lambda: cli('openstack', 'volume', 'show', VOLUME)['status'], lambda s: s == 'available', 'volume available again')


def volume_delete():
    cli('openstack', 'volume', 'delete', VOLUME, parse=False)
    wait_for(lambda: [v['Name'] for v in cli('openstack', 'volume', 'list')], lambda names: VOLUME not in names, 'volume gone')


def port_list_server():
    ports = cli('openstack', 'port', 'list', '--server', SERVER)
    expect(len(ports) == 1 and '10.0.0.' in json.dumps(ports[0]['Fixed IP Addresses']), ports)


def security_group_list():
    groups = cli('openstack', 'security', 'group', 'list')
    expect('default' in [g['Name'] for g in groups], groups)


def server_delete():
    cli('openstack', 'server', 'delete', '--wait', SERVER, parse=False)
    expect(SERVER not in [s['Name'] for s in cli('openstack', 'server', 'list')], 'server gone')


def nova_boot_rebuild_delete():
    cli('nova', 'boot', '--image', 'cirros', '--flavor', 'm1.tiny', '--nic', 'net-name=private', '--poll', NOVA_SERVER, parse=False)
    cli('nova', 'rebuild', '--poll', NOVA_SERVER, 'cirros-alt', parse=False)
    shown = cli('nova', 'show', NOVA_SERVER, parse=False)
    expect('cirros-alt' in shown and 'ACTIVE' in shown, shown)
    cli('nova', 'delete', NOVA_SERVER, parse=False)
    wait_for(lambda: cli('nova', 'list', parse=False), lambda out: NOVA_SERVER not in out, 'nova server gone')


for name, fn in [
    ('openstack image list', image_list),
    ('openstack server create --image NAME --flavor NAME --network NAME --wait', server_create),
    ('openstack server show: its address', server_show_address),
    ('openstack volume create --size 1', volume_create),
    ('openstack server add volume; volume show: in-use', server_add_volume),
    ('openstack server remove volume', server_remove_volume),
    ('openstack volume delete', volume_delete),
    ('openstack port list --server', port_list_server),
    ('openstack security group list', security_group_list),
    ('openstack server delete --wait', server_delete),
    ('nova boot --image NAME --nic net-name=NAME, nova rebuild, nova delete', nova_boot_rebuild_delete),
]:
    steps.run(name, fn)
steps.finish()
