"""python-novaclient against taskgate, as an operator's script would use it."""
import uuid

from novaclient import api_versions, client, exceptions
import openstack

from common import ADMIN_CLOUD, CLOUD, IMAGE, IMAGE2, READER_CLOUD, Steps, cloud_region, expect, wait_for

steps = Steps('novaclient')


def login(cloud, version):
    """A novaclient on a password session; the compute endpoint comes from Keystone's catalog."""
    region = cloud_region(cloud)
    return client.Client(version, session=region.get_session(), region_name=region.region_name,
                         endpoint_type=region.get_interface() or 'public')


# Negotiate as `nova --os-compute-api-version 2.latest` does: the highest version both know.
negotiated = api_versions.discover_version(login(CLOUD, '2.1'), api_versions.APIVersion('2.latest'))
nova = login(CLOUD, negotiated.get_string())
state = {}


def server():
    return nova.servers.get(state['id'])


def wait_status(status):
    return wait_for(server, lambda s: s.status == status and getattr(s, 'OS-EXT-STS:task_state') is None,
                    f'status {status}')


def negotiate():
    expect(negotiated.get_string() == '2.79', f'negotiated {negotiated}')
    versions = nova.versions.list()
    expect([v.id for v in versions] == ['v2.0', 'v2.1'], versions)
    expect(nova.versions.get_current().version == '2.79', 'current version')


def flavors():
    names = [f.name for f in nova.flavors.list()]
    expect('m1.small' in names, names)
    expect(nova.flavors.get('2').ram == 2048, 'flavor 2')


def create():
    # From 2.37 Nova requires networks: taskgate's servers start without ports.
    created = nova.servers.create('nc-web', image=IMAGE, flavor='1', nics='none', meta={'role': 'web'})
    expect(created.adminPass, 'adminPass')
    state['id'] = created.id
    s = wait_status('ACTIVE')
    expect(s.locked is False and s.locked_reason is None, 'locked (2.9), locked_reason (2.73)')
    # From 2.47 the flavor is embedded, by its name.
    expect(s.image['id'] == IMAGE and s.flavor['original_name'] == 'm1.tiny', (s.image, s.flavor))
    expect(s.metadata == {'role': 'web'} and s.tags == [], (s.metadata, s.tags))


def list_and_paginate():
    second = nova.servers.create('nc-other', image=IMAGE, flavor='1', nics='none')
    wait_for(lambda: nova.servers.get(second.id), lambda s: s.status == 'ACTIVE', 'second ACTIVE')
    everything = nova.servers.list()
    expect({s.id for s in everything} == {state['id'], second.id}, everything)
    page = nova.servers.list(limit=1)
    expect(len(page) == 1, page)
    rest = nova.servers.list(marker=page[0].id, limit=1)
    expect(len(rest) == 1 and rest[0].id != page[0].id, rest)
    expect([s.id for s in nova.servers.list(search_opts={'name': '^nc-web$'})] == [state['id']], 'name filter')
    expect(len(nova.servers.list(search_opts={'status': 'SHUTOFF'})) == 0, 'status filter')
    nova.servers.delete(second.id)


def attach_detach_volume():
    # The volume is Cinder's (made with openstacksdk: Debian's novaclient has no Cinder).
    volume = openstack.connect(cloud=CLOUD).block_storage.create_volume(size=1, name='nova-vol').id
    attachment = nova.volumes.create_server_volume(state['id'], volume)
    expect(attachment.volumeId == volume and attachment.device == '/dev/vdb', attachment)
    wait_status('ACTIVE')
    expect([a.volumeId for a in nova.volumes.get_server_volumes(state['id'])] == [volume], 'listed')
    expect(nova.volumes.get_server_volume(state['id'], volume).serverId == state['id'], 'shown')
    expect(server().to_dict()['os-extended-volumes:volumes_attached'][0]['id'] == volume, 'on the server')
    nova.volumes.delete_server_volume(state['id'], volume)
    wait_status('ACTIVE')
    expect(nova.volumes.get_server_volumes(state['id']) == [], 'detached')


def interfaces():
    # The port is Neutron's, made on the shared network `private` (with openstacksdk: Debian's
    # novaclient has no Neutron); Nova binds it to the server and unbinds it at the detach.
    network = openstack.connect(cloud=CLOUD).network
    port = network.create_port(network_id=network.find_network('private', ignore_missing=False).id).id
    attached = nova.servers.interface_attach(state['id'], port, None, None)
    expect(attached.port_id == port, attached)
    wait_status('ACTIVE')
    expect([i.port_id for i in nova.servers.interface_list(state['id'])] == [port], 'listed')
    nova.servers.interface_detach(state['id'], port)
    wait_status('ACTIVE')
    expect(nova.servers.interface_list(state['id']) == [], 'detached')
    expect(network.get_port(port).device_id == '', 'port unbound')
    network.delete_port(port, ignore_missing=False)


def rebuild():
    rebuilt = nova.servers.rebuild(state['id'], IMAGE2)
    expect(rebuilt.status == 'REBUILD', rebuilt.status)
    expect(wait_status('ACTIVE').image['id'] == IMAGE2, 'new image')


def resize_confirm():
    nova.servers.resize(state['id'], '2')
    expect(wait_status('VERIFY_RESIZE').flavor['original_name'] == 'm1.small', 'resized')
    nova.servers.confirm_resize(state['id'])
    expect(wait_status('ACTIVE').flavor['original_name'] == 'm1.small', 'confirmed')


def shelve_unshelve():
    nova.servers.shelve(state['id'])
    wait_status('SHELVED')
    nova.servers.unshelve(state['id'])
    wait_status('ACTIVE')


def conflicts():
    # By vm_state: there is no resize to confirm.
    try:
        nova.servers.confirm_resize(state['id'])
    except exceptions.Conflict as e:
        expect(e.code == 409, e.code)
        expect(str(e.message) == f"Cannot 'confirmResize' instance {state['id']} while it is in vm_state active",
               e.message)
    else:
        raise AssertionError('confirm_resize was accepted')
    # By task_state: a reboot is running, a rebuild must wait.
    nova.servers.reboot(state['id'], reboot_type='HARD')
    try:
        nova.servers.rebuild(state['id'], IMAGE)
    except exceptions.Conflict as e:
        expect(str(e.message) == f"Cannot 'rebuild' instance {state['id']} while it is in task_state rebooting_hard",
               e.message)
        expect(e.request_id and e.request_id.startswith('req-'), e.request_id)
    else:
        raise AssertionError('rebuild during a reboot was accepted')
    wait_status('ACTIVE')


def instance_actions():
    actions = nova.instance_action.list(state['id'])
    names = [a.action for a in actions]
    for expected in ['create', 'attach_volume', 'detach_volume', 'rebuild', 'resize', 'confirmResize',
                     'shelve', 'unshelve', 'reboot']:
        expect(expected in names, f'{expected} not in {names}')
    create_action = next(a for a in actions if a.action == 'create')
    detail = nova.instance_action.get(state['id'], create_action.request_id)
    expect(detail.events and detail.events[0]['result'] == 'Success', detail.events)


def roles():
    """The roles in each user's Keystone token, as Nova's default policies read them."""
    admin = login(ADMIN_CLOUD, negotiated.get_string())
    reader = login(READER_CLOUD, negotiated.get_string())
    # Keystone's own admin, in project admin: reads another project's server (Nova: admin or owner).
    expect(admin.servers.get(state['id']).tenant_id == server().tenant_id, 'admin reads it, in its project')
    try:
        nova.servers.list(search_opts={'all_tenants': 1})
    except exceptions.Forbidden as e:
        expect(e.code == 403, e.code)
    else:
        raise AssertionError('a member listed all tenants')
    expect(reader.servers.get(state['id']).status == 'ACTIVE', 'reader: reads')
    try:
        reader.servers.reboot(state['id'])
    except exceptions.Forbidden as e:
        expect(e.code == 403, e.code)
    else:
        raise AssertionError('a reader rebooted a server')
    expect(server().status == 'ACTIVE' and getattr(server(), 'OS-EXT-STS:task_state') is None, 'nothing changed')


def delete():
    nova.servers.delete(state['id'])
    wait_for(lambda: [s.id for s in nova.servers.list()], lambda ids: state['id'] not in ids, 'deleted')
    try:
        nova.servers.get(state['id'])
    except exceptions.NotFound:
        pass
    else:
        raise AssertionError('deleted server still found')


for name, fn in [
    ('negotiate the microversion (versions.list, versions.get_current)', negotiate),
    ('flavors.list, flavors.get', flavors),
    ('servers.create, servers.get until ACTIVE', create),
    ('servers.list: all, limit/marker, name and status filters', list_and_paginate),
    ('volumes.create_server_volume, get_server_volumes, get_server_volume, delete_server_volume', attach_detach_volume),
    ('servers.interface_attach, interface_list, interface_detach', interfaces),
    ('servers.rebuild', rebuild),
    ('servers.resize, servers.confirm_resize', resize_confirm),
    ('servers.shelve, servers.unshelve', shelve_unshelve),
    ('a conflict raises novaclient.exceptions.Conflict with Nova\'s message', conflicts),
    ('instance_action.list, instance_action.get', instance_actions),
    ("roles from Keystone: admin reads another project's server, member may not list all_tenants, reader reads but may not reboot", roles),
    ('servers.delete', delete),
]:
    steps.run(name, fn)
steps.finish()
