"""openstacksdk against taskgate, as an operator's script would use it."""
import uuid

import openstack
from openstack import exceptions
from openstack.compute.v2.server_action import ServerAction

from common import ADMIN_CLOUD, CLOUD, IMAGE, IMAGE2, READER_CLOUD, Steps, expect, wait_for

steps = Steps('openstacksdk')
# A password login from clouds.yaml; the SDK finds compute in Keystone's catalog and discovers the
# endpoint's microversion range from taskgate's version document.
conn = openstack.connect(cloud=CLOUD)
compute = conn.compute
state = {}


def server():
    return compute.get_server(state['id'])


def wait_status(status):
    return wait_for(server, lambda s: s.status == status and s.task_state is None, f'status {status}')


def flavors():
    names = [f.name for f in compute.flavors()]
    expect('m1.small' in names, names)
    expect(compute.get_flavor('2').ram == 2048, 'flavor 2')


def create():
    # From 2.37 Nova requires networks: taskgate's servers start without ports.
    created = compute.create_server(name='sdk-web', image_id=IMAGE, flavor_id='1', networks='none')
    expect(created.admin_password, 'adminPass')
    state['id'] = created.id
    s = compute.wait_for_server(created, status='ACTIVE', interval=0.1, wait=60)
    expect(s.is_locked is False, 'locked (2.9)')
    # From 2.47 the flavor is embedded, by its name.
    expect(s.image.id == IMAGE and s.flavor.name == 'm1.tiny', (s.image, s.flavor))
    expect(s.vm_state == 'active' and s.power_state == 1, (s.vm_state, s.power_state))


def list_servers():
    second = compute.create_server(name='sdk-other', image_id=IMAGE, flavor_id='1', networks='none')
    compute.wait_for_server(second, status='ACTIVE', interval=0.1, wait=60)
    # A small page size makes the SDK follow Nova's servers_links through every page.
    expect({s.id for s in compute.servers(limit=1)} == {state['id'], second.id}, 'paged listing')
    expect([s.id for s in compute.servers(name='^sdk-web$')] == [state['id']], 'name filter')
    expect([s.id for s in compute.servers(status='ACTIVE')] != [], 'status filter')
    expect(list(compute.servers(status='SHUTOFF')) == [], 'status filter, none')
    compute.delete_server(second)


def attach_detach_volume():
    # The volume is Cinder's: the SDK finds block-storage in Keystone's catalog and makes it there.
    made = conn.block_storage.create_volume(size=1, name='sdk-vol')
    expect(made.status == 'available' and made.size == 1, (made.status, made.size))
    volume = made.id
    attachment = compute.create_volume_attachment(state['id'], volume_id=volume)
    expect(attachment.volume_id == volume and attachment.device == '/dev/vdb', attachment)
    wait_status('ACTIVE')
    expect([a.volume_id for a in compute.volume_attachments(state['id'])] == [volume], 'listed')
    expect(compute.get_volume_attachment(volume, state['id']).server_id == state['id'], 'shown')
    expect([v['id'] for v in server().attached_volumes] == [volume], 'on the server')
    expect(conn.block_storage.get_volume(volume).status == 'in-use', 'in-use in Cinder')
    compute.delete_volume_attachment(volume, state['id'], ignore_missing=False)
    wait_status('ACTIVE')
    expect(list(compute.volume_attachments(state['id'])) == [], 'detached')
    wait_for(lambda: conn.block_storage.get_volume(volume), lambda v: v.status == 'available', 'volume available')
    conn.block_storage.delete_volume(volume)


def interfaces():
    # The port is Neutron's, made on the shared network `private`; Nova binds it to the server.
    network = openstack.connect(cloud=CLOUD).network
    port = network.create_port(network_id=network.find_network('private', ignore_missing=False).id).id
    attached = compute.create_server_interface(state['id'], port_id=port)
    expect(attached.port_id == port, attached)
    wait_status('ACTIVE')
    expect([i.port_id for i in compute.server_interfaces(state['id'])] == [port], 'listed')
    expect(compute.get_server_interface(port, server=state['id']).port_id == port, 'shown')
    compute.delete_server_interface(port, server=state['id'], ignore_missing=False)
    wait_status('ACTIVE')
    expect(list(compute.server_interfaces(state['id'])) == [], 'detached')
    expect(network.get_port(port).device_id == '', 'port unbound')
    network.delete_port(port, ignore_missing=False)


def rebuild():
    rebuilt = compute.rebuild_server(state['id'], image=IMAGE2)
    expect(rebuilt.status == 'REBUILD', rebuilt.status)
    expect(wait_status('ACTIVE').image.id == IMAGE2, 'new image')


def resize_confirm():
    compute.resize_server(state['id'], '2')
    expect(wait_status('VERIFY_RESIZE').flavor.name == 'm1.small', 'resized')
    compute.confirm_server_resize(state['id'])
    expect(wait_status('ACTIVE').flavor.name == 'm1.small', 'confirmed')


def shelve_unshelve():
    compute.shelve_server(state['id'])
    wait_status('SHELVED')
    compute.unshelve_server(state['id'])
    wait_status('ACTIVE')


def conflicts():
    # By vm_state: there is no resize to confirm.
    try:
        compute.confirm_server_resize(state['id'])
    except exceptions.ConflictException as e:
        expect(e.status_code == 409, e.status_code)
        expect(f"Cannot 'confirmResize' instance {state['id']} while it is in vm_state active" in str(e), str(e))
    else:
        raise AssertionError('confirm resize was accepted')
    # By task_state: a stop is running, a rebuild must wait.
    compute.stop_server(state['id'])
    try:
        compute.rebuild_server(state['id'], image=IMAGE)
    except exceptions.ConflictException as e:
        expect(f"Cannot 'rebuild' instance {state['id']} while it is in task_state powering-off" in str(e), str(e))
        expect(e.request_id and e.request_id.startswith('req-'), e.request_id)
    else:
        raise AssertionError('rebuild during a stop was accepted')
    wait_status('SHUTOFF')
    compute.start_server(state['id'])
    wait_status('ACTIVE')


def server_actions(server_id):
    """compute.server_actions, or, where the SDK cannot build its URL, the same GET through the
    SDK's compute adapter. openstacksdk 0.101's ServerAction has base_path
    '/servers/{server_id}/os-instance-actions' (not '%(server_id)s'), so server_actions and
    get_server_action fail client-side (InvalidResourceQuery) before any request is sent."""
    try:
        return list(compute.server_actions(server_id)), 'compute.server_actions'
    except exceptions.InvalidResourceQuery:
        resp = compute.get(f'/servers/{server_id}/os-instance-actions')
        exceptions.raise_from_response(resp)
        return [ServerAction.existing(**a) for a in resp.json()['instanceActions']], 'compute.get (SDK 0.101 bug)'


def server_action(server_id, request_id):
    try:
        return compute.get_server_action(request_id, server_id, ignore_missing=False)
    except (exceptions.NotFoundException, exceptions.InvalidRequest):
        # The same resource: 0.101 finds no id to fetch it by (or requests the literal path).
        resp = compute.get(f'/servers/{server_id}/os-instance-actions/{request_id}')
        exceptions.raise_from_response(resp)
        return ServerAction.existing(**resp.json()['instanceAction'])


def instance_actions():
    actions, how = server_actions(state['id'])
    print(f'     (instance actions listed with {how})')
    names = [a.action for a in actions]
    for expected in ['create', 'attach_volume', 'detach_volume', 'attach_interface', 'detach_interface',
                     'rebuild', 'resize', 'confirmResize', 'shelve', 'unshelve', 'stop', 'start']:
        expect(expected in names, f'{expected} not in {names}')
    rebuild_action = next(a for a in actions if a.action == 'rebuild')
    detail = server_action(state['id'], rebuild_action.request_id)
    expect(detail.events and detail.events[0].result == 'Success', detail.events)


def roles():
    """The roles in each user's Keystone token, as Nova's default policies read them."""
    admin = openstack.connect(cloud=ADMIN_CLOUD).compute
    reader = openstack.connect(cloud=READER_CLOUD).compute
    # Keystone's own admin, in project admin: reads another project's server (Nova: admin or owner).
    expect(admin.get_server(state['id']).project_id == server().project_id, 'admin reads it, in its project')
    try:
        list(compute.servers(all_projects=True))
    except exceptions.HttpException as e:  # 0.101 has no ForbiddenException: a 403 is an HttpException
        expect(e.status_code == 403, e.status_code)
    else:
        raise AssertionError('a member listed all projects')
    expect(reader.get_server(state['id']).status == 'ACTIVE', 'reader: reads')
    try:
        reader.reboot_server(state['id'], 'SOFT')
    except exceptions.HttpException as e:  # 0.101 has no ForbiddenException: a 403 is an HttpException
        expect(e.status_code == 403, e.status_code)
    else:
        raise AssertionError('a reader rebooted a server')
    expect(server().status == 'ACTIVE' and server().task_state is None, 'nothing changed')


def delete():
    compute.delete_server(state['id'])
    compute.wait_for_delete(server(), interval=0.1, wait=60)
    expect(compute.find_server(state['id']) is None, 'deleted server still found')


for name, fn in [
    ('compute.flavors, get_flavor', flavors),
    ('compute.create_server, wait_for_server', create),
    ('compute.servers: paged (limit), name and status filters', list_servers),
    ('compute.create_volume_attachment, volume_attachments, get_volume_attachment, delete_volume_attachment',
     attach_detach_volume),
    ('compute.create_server_interface, server_interfaces, get_server_interface, delete_server_interface',
     interfaces),
    ('compute.rebuild_server', rebuild),
    ('compute.resize_server, confirm_server_resize', resize_confirm),
    ('compute.shelve_server, unshelve_server', shelve_unshelve),
    ('a conflict raises openstack.exceptions.ConflictException with Nova\'s message', conflicts),
    ('instance actions: compute.server_actions, get_server_action (see server_actions())', instance_actions),
    ("roles from Keystone: admin reads another project's server, member may not list all_projects, reader reads but may not reboot", roles),
    ('compute.delete_server, wait_for_delete', delete),
]:
    steps.run(name, fn)
steps.finish()
